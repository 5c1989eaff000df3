"""Figures: the library draws without pyplot or a backend switch; `qmcsim plot` finds the
folder kind by its files; overlapping series are said in the legend."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from qmcsim.plot import folder_kind, pareto_mask, sweep_summary
from qmcsim.plot.style import overlap_notes, spans_decades
from tests.conftest import DATA, ROOT

PNG = b"\x89PNG\r\n\x1a\n"


def test_library_never_chooses_a_backend():
    code = ("import matplotlib, sys; matplotlib.use('svg'); import qmcsim.plot, "
            "qmcsim.commands.run, qmcsim.commands.plot; "
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_overlap_is_named_in_the_legend():
    notes = overlap_notes({"fp16": [16.0, 16.1], "qmc-3bit": [2.0, 2.0],
                           "qmc-2bit": [2.001, 1.999]})
    assert notes == {"qmc-2bit": " (overlaps qmc-3bit)"}


def test_log_axis_only_when_values_span_decades():
    assert spans_decades([12.1, 209_156.0])
    assert not spans_decades([3.4, 7.2, 13.45])
    assert not spans_decades([0.0, 5.0])


def test_pareto_mask_keeps_the_non_dominated_points():
    x = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    y = np.array([5.0, 2.0, 1.0, 3.0, 6.0])
    assert pareto_mask(x, y).tolist() == [True, True, True, False, False]


def _points() -> pd.DataFrame:
    rows = []
    for point, (rho_3, rho_2) in enumerate([(0.1, 0.1), (0.3, 0.3), (0.5, 0.5)]):
        for system, ms in (("fp16", 16.0), ("qmc-3bit", 1.5 + rho_3), ("qmc-2bit", 1.5 + rho_2)):
            rows.append({"point": point, "systems.qmc-3bit.format.rho": rho_3,
                         "systems.qmc-2bit.format.rho": rho_2, "system": system,
                         "decode_ms_per_token": ms, "energy_per_token_uj": 1000 * ms,
                         "external_bytes_per_token": 4e8 * ms, "weight_bytes": 3e9})
    return pd.DataFrame(rows)


def test_sweep_figure_plots_each_system_against_its_own_parameter():
    fig = sweep_summary(_points())
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"fp16", "qmc-3bit", "qmc-2bit (overlaps qmc-3bit)"}
    assert list(lines["qmc-3bit"].get_xdata()) == [0.1, 0.3, 0.5]
    assert ax.get_xlabel() == "format.rho" and "(ms)" in ax.get_ylabel()


@pytest.mark.parametrize("files, kind", [
    (["summary.csv", "per_step.csv", "traffic.csv", "contention.csv"], "run"),
    (["points.csv"], "sweep"),
    (["summary.csv", "runs.csv", "tensors.csv"], "accuracy"),
    (["summary.csv"], None),
])
def test_folder_kind_by_files_present(tmp_path, files, kind):
    for f in files:
        (tmp_path / f).write_text("x\n")
    assert folder_kind(tmp_path) == kind


def test_run_writes_figures_and_plot_redraws_them(run_cli, tmp_path):
    out = run_cli("run", str(DATA / "tiny.yaml"), "--out", "res", "--no-progress",
                  "--set", "workload.generate_tokens=2")
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "res" / "tiny-001"
    png = (folder / "summary.png").read_bytes()
    assert png.startswith(PNG) and b"<svg" in (folder / "summary.svg").read_bytes()
    again = run_cli("plot", str(folder), "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "summary.png").read_bytes() == png      # same tables, same figure


def test_run_without_figure_writes_the_tables_and_plot_draws_it_later(run_cli, tmp_path):
    args = ("--no-progress", "--set", "workload.generate_tokens=2")
    drawn = run_cli("run", str(DATA / "tiny.yaml"), "--out", "drawn", *args)
    plain = run_cli("run", str(DATA / "tiny.yaml"), "--out", "plain", "--no-figure", *args)
    assert drawn.returncode == 0 and plain.returncode == 0, plain.stderr
    assert plain.stdout.replace("plain", "drawn") == drawn.stdout   # the same report
    with_figure, tables_only = tmp_path / "drawn" / "tiny-001", tmp_path / "plain" / "tiny-001"
    tables = [p for p in with_figure.iterdir() if p.suffix not in (".png", ".svg")]
    assert sorted(p.name for p in tables_only.iterdir()) == sorted(p.name for p in tables)
    assert all((tables_only / p.name).read_bytes() == p.read_bytes() for p in tables)
    later = run_cli("plot", str(tables_only), "--out", str(tmp_path))
    assert later.returncode == 0, later.stderr
    assert (tmp_path / "summary.png").read_bytes() == (with_figure / "summary.png").read_bytes()


def test_plot_sweep_and_accuracy_folders(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    _points().to_csv(sweep / "points.csv", index=False)
    acc = tmp_path / "acc"
    acc.mkdir()
    pd.DataFrame({"variant": ["fp16", "qmc", "qmc-rho0.1", "qmc-rho0.5"],
                  "base": ["fp16", "qmc", "qmc", "qmc"], "format": ["fp16", "qmc", "qmc", "qmc"],
                  "rho": [None, 0.3, 0.1, 0.5], "n_seeds": [1, 2, 2, 2],
                  "perplexity_mean": [38.7, 46.8, 56.2, 43.0],
                  "perplexity_ci95_half": [None, 1.4, 1.0, 0.8]}).to_csv(acc / "summary.csv",
                                                                         index=False)
    (acc / "runs.csv").write_text("variant\n")
    for folder, stem in ((sweep, "sweep"), (acc, "accuracy")):
        out = run_cli("plot", str(folder), "--format", "png")
        assert out.returncode == 0, out.stderr
        assert (folder / f"{stem}.png").read_bytes().startswith(PNG)
        assert not (folder / f"{stem}.svg").exists()
    assert not (acc / "ppl_vs_bits.png").exists()       # no bits_per_weight column
    summary = pd.read_csv(acc / "summary.csv").assign(bits_per_weight=[16.0, 3.69, 3.6, 3.8])
    summary.to_csv(acc / "summary.csv", index=False)
    out = run_cli("plot", str(acc), "--format", "png")
    assert out.returncode == 0, out.stderr
    assert (acc / "ppl_vs_bits.png").read_bytes().startswith(PNG)


def test_plot_of_a_folder_without_results_is_one_line_exit_2(run_cli, tmp_path):
    out = run_cli("plot", str(tmp_path))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "points.csv" in out.stderr


def test_log_axis_labels_are_plain_text_powers_of_ten():
    from qmcsim.plot.style import PowerOfTen

    fmt = PowerOfTen(labelOnlyBase=False)
    assert [fmt._num_to_string(x, 1e-3, 1e4) for x in (1e3, 1e-2, 1.0, 2e3)] == \
        ["10\u00b3", "10\u207b\u00b2", "10\u2070", "2\u00d710\u00b3"]


def test_summary_figure_decorations_fit_without_a_layout_engine():
    """fit_grid's margins: every panel's ticks, labels and title inside the figure and clear of
    the other panels (what constrained layout guaranteed), on a shipped run's tables."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from qmcsim.plot import load_results, run_summary

    fig = run_summary(load_results(ROOT / "tests" / "golden" / "hymba-qmc"), "hymba-qmc (x)")
    assert fig.get_layout_engine() is None
    renderer = FigureCanvasAgg(fig).get_renderer()
    page = fig.bbox
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for box in boxes:
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 \
            and box.y1 <= page.y1, (box, page)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    (title,) = fig.texts
    assert title.get_text() == "hymba-qmc (x)"
    box = title.get_window_extent(renderer)
    assert box.y0 > max(b.y1 for b in boxes) and box.y1 <= page.y1


def test_summary_figure_with_labels_too_long_for_it_still_draws():
    from qmcsim.plot import load_results, run_summary
    from qmcsim.plot.style import MIN_CELL

    tables = load_results(ROOT / "tests" / "golden" / "hymba-qmc")
    for table in tables.values():
        if "memory" in table:
            table["memory"] = table["memory"].replace("dram", "d" * 300)
    fig = run_summary(tables, "long names")
    assert all(ax.get_position().width >= MIN_CELL - 1e-9 for ax in fig.axes)
