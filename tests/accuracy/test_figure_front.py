"""The perplexity-vs-bits figure's Pareto front and shared labels (pure helpers)."""

from qmcsim.accuracy.figure import label_groups, pareto_front


def test_pareto_front_keeps_only_undominated_points_by_increasing_bits() -> None:
    pts = [(4.2, 35.6, "gptq"), (4.0, 54.1, "rtn"), (3.6, 59.7, "sq"), (3.7, 39.0, "qmc"),
           (4.17, 37.4, "awq"), (3.9, 40.7, "spqr"), (3.7, 39.2, "qmc-3b")]
    assert [p[2] for p in pareto_front(pts)] == ["sq", "qmc", "awq", "gptq"]


def test_pareto_front_of_equal_bits_keeps_the_lower_perplexity() -> None:
    assert [p[2] for p in pareto_front([(4.0, 50.0, "a"), (4.0, 40.0, "b")])] == ["b"]


def test_coinciding_points_share_one_label_in_config_order() -> None:
    pts = [(3.69, 38.97, "qmc"), (3.69, 38.97, "qmc-2b"), (3.69, 39.2, "qmc-3b"),
           (4.2, 35.6, "gptq")]
    groups = label_groups(pts, x_tol=0.01, y_tol=1.0)
    assert [g[2] for g in groups] == ["qmc, qmc-2b, qmc-3b", "gptq"]
    assert groups[0][1] == 39.2
