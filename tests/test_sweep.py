"""Sweeps: sampling, validation before running, failures recorded, budgets and the Pareto
front, one row per point x system."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from qmcsim.errors import ConfigError
from qmcsim.sweep import Objective, Parameter, SweepConfig, overrides_of, points
from qmcsim.sweep.config import Constraint, check_sweep
from qmcsim.sweep.metrics import eq4_power_mw, feasible, non_dominated, pareto, peak_read_gb_per_s
from qmcsim.sweep.sampling import range_steps, unit_samples
from tests.conftest import DATA, ROOT


def _cfg(**kw):
    return SweepConfig(base="x.yaml", **kw)


def test_grid_and_zip_points():
    grid = _cfg(parameters=[{"path": "a", "values": [1, 2]}, {"path": "b", "values": ["u", "v"]}])
    assert points(grid) == [{"a": 1, "b": "u"}, {"a": 1, "b": "v"},
                            {"a": 2, "b": "u"}, {"a": 2, "b": "v"}]
    zipped = grid.model_copy(update={"mode": "zip"})
    assert points(zipped) == [{"a": 1, "b": "u"}, {"a": 2, "b": "v"}]
    assert overrides_of({"x.y": 0.25, "z": [1, 2]}) == ["x.y=0.25", "z=[1, 2]"]


def test_ranges_enumerate_linear_log_and_int():
    cfg = _cfg(parameters=[{"path": "a", "range": {"low": 0.1, "high": 0.5, "steps": 5}},
                           {"path": "b", "range": {"low": 1, "high": 64, "scale": "log",
                                                   "type": "int", "steps": 7}}])
    assert range_steps(cfg.parameters[0].range) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert range_steps(cfg.parameters[1].range) == [1, 2, 4, 8, 16, 32, 64]
    assert len(points(cfg)) == 35


@pytest.mark.parametrize("mode", ["random", "lhs", "sobol"])
def test_sampled_modes_are_seeded_and_stay_in_range(mode):
    cfg = _cfg(mode=mode, samples=16, seed=3, parameters=[
        {"path": "rho", "range": {"low": 0.1, "high": 0.5}},
        {"path": "ch", "range": {"low": 2, "high": 32, "scale": "log", "type": "int"}},
        {"path": "bits", "values": [2, 3]}])
    first = points(cfg)
    assert first == points(cfg) and len(first) == 16
    assert first != points(cfg.model_copy(update={"seed": 4}))
    assert all(0.1 <= p["rho"] <= 0.5 and 2 <= p["ch"] <= 32 and isinstance(p["ch"], int)
               and p["bits"] in (2, 3) for p in first)


def test_latin_hypercube_hits_every_stratum_once():
    u = unit_samples("lhs", 10, 3, seed=0)
    for d in range(3):
        assert sorted(np.floor(u[:, d] * 10).astype(int)) == list(range(10))


@pytest.mark.parametrize("n, d, seed", [(1, 1, 0), (10, 3, 0), (50, 3, 7), (333, 5, 12345)])
def test_latin_hypercube_draws_the_numbers_scipy_draws(n, d, seed):
    from scipy.stats import qmc

    assert np.array_equal(unit_samples("lhs", n, d, seed),
                          qmc.LatinHypercube(d, rng=seed).random(n))


def test_lhs_and_random_sweeps_do_not_import_scipy_stats():
    code = ("import sys; from qmcsim.sweep.sampling import unit_samples; "
            "unit_samples('lhs', 8, 2, 0); unit_samples('random', 8, 2, 0); "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kw, field", [
    ({"mode": "lhs", "parameters": [{"path": "a", "values": [1]}]}, "samples"),
    ({"mode": "grid", "samples": 4, "parameters": [{"path": "a", "values": [1]}]}, "samples"),
    ({"parameters": [{"path": "a", "range": {"low": 0, "high": 1}}]}, "parameters[0].range.steps"),
    ({"mode": "zip", "parameters": [{"path": "a", "values": [1, 2]},
                                    {"path": "b", "values": [1]}]}, "parameters"),
    ({"fixed": {"a": 1}, "parameters": [{"path": "a", "values": [1]}]}, "parameters[0].path"),
])
def test_inconsistent_sweeps_are_rejected(kw, field):
    with pytest.raises(ConfigError) as err:
        check_sweep(_cfg(**kw), "s.yaml")
    assert err.value.field_path == field


def test_eq4_power_and_bus_capped_bandwidth():
    from qmcsim.config.devices import load_device

    mram = load_device("qmc-mram", {}, file="t", field_path="m")
    reram = load_device("qmc-reram-3b", {}, file="t", field_path="r")
    assert peak_read_gb_per_s(mram, 4) == pytest.approx(4 * 39.27)
    assert peak_read_gb_per_s(reram, 100) == pytest.approx(100 * 1.933)
    assert peak_read_gb_per_s(reram, 20000) == pytest.approx(211.2)   # the 64-byte bus
    # Eq. 4 by hand: GB/s x 8 bit/B x pJ/bit = mW
    p = eq4_power_mw({"mram": 157.08, "reram": 211.2}, {"mram": 1.0, "reram": 1.56}, 0.5)
    assert p == pytest.approx(157.08 * 8 * 1.5 + 211.2 * 8 * 2.06)


def test_feasibility_and_pareto_front():
    t = pd.DataFrame({"system": ["fp16", "q", "q", "q", "q", "q"],
                      "lat": [9.0, 1.0, 2.0, 2.0, 3.0, 0.5], "en": [9.0, 3.0, 1.0, 2.0, 3.0, 0.1],
                      "p": [50.0, 5.0, 5.0, 5.0, 5.0, 99.0]})
    ok = feasible(t, [Constraint(metric="p", max=10)], "fp16")
    assert ok.tolist() == [True, True, True, True, True, False]   # the baseline is not budgeted
    front = pareto(t, [Objective(metric="lat"), Objective(metric="en")], ok, "fp16")
    assert front.tolist() == [False, True, True, False, False, False]
    assert non_dominated(np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 0.5]])).tolist() == \
        [True, True, True]


def _sweep(tmp_path, values, path="systems.qmc.format.rho", **extra):
    cfg = {"name": "s", "base": str(DATA / "tiny.yaml"), "mode": "grid",
           "parameters": [{"path": path, "values": values},
                          {"path": "workload.generate_tokens", "values": [1]}], **extra}
    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump(cfg))
    return file


def test_sweep_cli_writes_one_row_per_point_and_system(run_cli, tmp_path):
    sweep = _sweep(tmp_path, [0.2, 0.4], fixed={"systems.qmc.memories.mram.count": "auto"},
                   constraints=[{"metric": "eq4_power_mw", "max": 1e9}])
    out = run_cli("sweep", str(sweep), "--out", "res", "--workers", "2", "--no-progress")
    assert out.returncode == 0, out.stderr
    table = pd.read_parquet(tmp_path / "res" / "points.parquet")
    pd.testing.assert_frame_equal(table, pd.read_csv(tmp_path / "res" / "points.csv"),
                                  check_dtype=False)
    assert len(table) == 2 * 2 and table.point.tolist() == [0, 0, 1, 1]
    qmc = table[table.system == "qmc"].set_index("systems.qmc.format.rho")
    # more outliers at 5 bits: more weight bytes, and `count: auto` adds no MRAM channel here
    assert qmc.loc[0.4, "weight_bytes"] > qmc.loc[0.2, "weight_bytes"]
    assert (qmc["units.mram"] == 1).all() and (qmc["units.reram"] == 2000).all()
    assert table.feasible.all() and table.pareto.sum() >= 1
    assert (table[table.system == "fp16"].decode_ms_per_token_vs_fp16 == 1.0).all()
    # the baseline's config is the same at both points: simulated once
    assert "3 simulations run" in out.stdout and "units.mram" in out.stdout
    assert (tmp_path / "res" / "pareto.png").stat().st_size > 0
    assert (tmp_path / "res" / "resolved" / "point-0001.json").is_file()


def test_a_bad_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    from qmcsim.sweep import load_sweep, run_sweep

    cfg, base = load_sweep(_sweep(tmp_path, [0.2, 1.5]))
    result = run_sweep(cfg, base, tmp_path / "res")
    assert result.failures.point.tolist() == [1]
    assert "systems[1].format.rho" in result.failures.error[0]
    assert result.table.point.unique().tolist() == [0]
    written = pd.read_csv(tmp_path / "res" / "failures.csv")
    assert written.error.tolist() == result.failures.error.tolist()


def test_fail_fast_stops_before_anything_runs(run_cli, tmp_path):
    out = run_cli("sweep", str(_sweep(tmp_path, [0.2, 1.5])), "--out", "res", "--no-progress",
                  "--fail-fast")
    assert out.returncode == 2
    assert "systems[1].format.rho" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "res").exists()


def test_a_dram_count_the_controller_refuses_fails_at_validation(tmp_path):
    from qmcsim.sweep import load_sweep, resolve_points

    # the command-level LPDDR5 model maps addresses over a power-of-two channel count
    cfg, base = load_sweep(_sweep(tmp_path, [16, 12], path="systems.fp16.memories.dram.count",
                                  fixed={"systems.fp16.memories.dram.preset": "lpddr5-6400-x16"}))
    good, bad = resolve_points(cfg, base)
    assert good.error is None and len(good.tasks) == 2
    assert bad.error is not None and "systems[0].memories.dram" in bad.error \
        and "power of two" in bad.error


def test_every_point_invalid_is_bad_input(tmp_path):
    from qmcsim.sweep import PointError, load_sweep, run_sweep

    cfg, base = load_sweep(_sweep(tmp_path, [1.5, 2.0]))
    with pytest.raises(PointError, match="point 0"):
        run_sweep(cfg, base, tmp_path / "res")
    assert not (tmp_path / "res").exists()


def test_linked_parameters_move_together():
    cfg = _cfg(parameters=[{"path": "a.rho", "values": [0.1, 0.2], "link": "rho"},
                           {"path": "b.rho", "values": [0.1, 0.2], "link": "rho"},
                           {"path": "ch", "values": [4, 5, 6]}])
    got = points(cfg)
    assert len(got) == 6 and all(p["a.rho"] == p["b.rho"] for p in got)
    lhs = points(cfg.model_copy(update={"mode": "lhs", "samples": 5}))
    assert all(p["a.rho"] == p["b.rho"] for p in lhs)
    bad = cfg.model_copy(update={"parameters": [cfg.parameters[0], Parameter(
        path="b.rho", values=[1], link="rho")]})
    with pytest.raises(ConfigError, match="linked"):
        check_sweep(bad, "s.yaml")


def test_an_unusable_out_is_refused_before_any_point(run_cli, tmp_path):
    (tmp_path / "afile").write_text("x")
    out = run_cli("sweep", str(_sweep(tmp_path, [0.2, 0.3])), "--out", "afile/res",
                  "--no-progress", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "--out" in out.stderr and "is a file" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "sweep.yaml"]



def test_points_stream_and_the_table_equals_the_rows_built_point_by_point(tmp_path,
                                                                          monkeypatch):
    from qmcsim.sweep import execute, load_sweep, resolve_points, run_sweep
    from qmcsim.sweep.execute import point_rows
    from qmcsim.sweep.store import PointStore

    events: list[str] = []
    resolve = execute.resolve_point
    _record_resolve_and_simulate(monkeypatch, execute, events)
    cfg, base = load_sweep(_sweep(tmp_path, [0.2, 0.4, 0.2]))   # point 2 repeats point 0
    result = run_sweep(cfg, base, tmp_path / "res", on_point=lambda: events.append("done"))
    # each point is resolved after the previous one ran (not all points first); the baseline
    # shared by every point runs once, the repeated point not at all
    assert events == ["resolve 0", "simulate fp16", "simulate qmc", "done",
                      "resolve 1", "simulate qmc", "done", "resolve 2", "done"]
    assert (result.computed, result.reused) == (3, 0)
    assert set(result.cpu_s) >= {"client_resolve", "client_store", "worker_simulate"}

    monkeypatch.setattr(execute, "resolve_point", resolve)
    store = PointStore(tmp_path / "res", cfg.model_dump(mode="json", exclude_defaults=True))
    expected = pd.concat([point_rows(cfg, p, [store.read(t.key) for t in p.tasks])
                          for p in resolve_points(cfg, base)], ignore_index=True)
    pd.testing.assert_frame_equal(result.table.drop(columns=["feasible", "pareto"]), expected)


def _rho_sweep(tmp_path, values, path="systems.qmc.format.rho"):
    """A sweep whose parameter is inside one system: the other (fp16) is shared by all."""
    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump({"name": "s", "base": str(DATA / "tiny.yaml"), "mode": "grid",
                                    "parameters": [{"path": path, "values": values}]}))
    return file


def test_shared_systems_run_while_the_points_are_drawn(tmp_path, monkeypatch):
    from qmcsim.sweep import execute, load_sweep, run_sweep

    events: list[str] = []
    draw = execute.points

    def drawn(cfg):
        events.append("draw points")
        return draw(cfg)

    _record_resolve_and_simulate(monkeypatch, execute, events)
    monkeypatch.setattr(execute, "points", drawn)
    cfg, base = load_sweep(_rho_sweep(tmp_path, [0.2, 0.4, 0.2]))
    result = run_sweep(cfg, base, tmp_path / "ahead", on_point=lambda: events.append("done"))
    # the base config (index -1) is resolved and its unvaried system simulated before the
    # points are drawn; point 0 claims it, nothing is simulated twice
    assert events == ["resolve -1", "simulate fp16", "draw points",
                      "resolve 0", "simulate qmc", "done", "resolve 1", "simulate qmc", "done",
                      "resolve 2", "done"]
    assert (result.computed, result.reused) == (3, 0)
    stored = sorted(f.stem for f in (tmp_path / "ahead" / "points").glob("*.parquet"))
    assert stored == sorted(set(result.table.key))   # no file no point claims

    monkeypatch.setattr(execute, "shared_tasks", lambda cfg, base, out: [])
    plain = run_sweep(cfg, base, tmp_path / "plain")
    assert (tmp_path / "ahead" / "points.csv").read_bytes() == \
        (tmp_path / "plain" / "points.csv").read_bytes()
    assert plain.computed == 3


def test_shared_tasks_are_the_systems_no_parameter_names(tmp_path):
    from qmcsim.sweep import load_sweep, run_sweep
    from qmcsim.sweep.execute import shared_tasks

    def shared(path):
        cfg, base = load_sweep(_rho_sweep(tmp_path, [0.2], path))
        return [t.system for t in shared_tasks(cfg, base, tmp_path / "res")]

    assert shared("systems.qmc.format.rho") == ["fp16"]
    assert shared("systems[1].format.rho") == ["fp16"]    # by index
    assert shared("systems.1.format.rho") == ["fp16"]
    assert shared("systems.fp16.memories.dram.count") == ["qmc"]
    assert shared("workload.generate_tokens") == []       # varies every system
    # already stored (a resumed sweep): nothing to run ahead
    cfg, base = load_sweep(_rho_sweep(tmp_path, [0.2]))
    run_sweep(cfg, base, tmp_path / "res")
    assert shared_tasks(cfg, base, tmp_path / "res") == []


def test_a_shared_task_no_valid_point_claims_is_not_stored(tmp_path):
    from qmcsim.sweep import PointError, load_sweep, run_sweep

    cfg, base = load_sweep(_rho_sweep(tmp_path, [1.5, 2.0]))   # fp16 runs ahead, no point valid
    with pytest.raises(PointError, match="point 0"):
        run_sweep(cfg, base, tmp_path / "res", workers=2)
    assert not (tmp_path / "res").exists()


def _record_resolve_and_simulate(monkeypatch, execute, events: list[str]) -> None:
    """Wrap the sweep's point resolver and simulator so each call is logged in `events`."""
    resolve, simulate = execute.resolve_point, execute.simulate_point

    def recorded(cfg, base, index, values, cache=None):
        events.append(f"resolve {index}")
        return resolve(cfg, base, index, values, cache)

    def simulated(run):
        events.append(f"simulate {run.systems[0].name}")
        return simulate(run)

    monkeypatch.setattr(execute, "resolve_point", recorded)
    monkeypatch.setattr(execute, "simulate_point", simulated)


def test_dask_chunks_shrink_as_the_sweep_ends():
    from qmcsim.sweep.execute import chunk_size

    sizes, left = [], 53
    while left:
        sizes.append(chunk_size(left, threads=2, most=8))
        left -= sizes[-1]
    assert sizes == [8, 8, 8, 8, 6, 4, 3, 2, 2, 1, 1, 1, 1]   # 13 Dask tasks, not 53
    assert chunk_size(1000, threads=64, most=8) == 8 and chunk_size(3, threads=2, most=8) == 1


SHIPPED_SWEEPS = sorted(p for p in (ROOT / "hw_configs" / "sweeps").glob("*.yaml")
                        if "base" in yaml.safe_load(p.read_text()))


@pytest.mark.parametrize("path", SHIPPED_SWEEPS, ids=lambda p: p.stem)
def test_every_shipped_sweep_draws_its_points_and_resolves_the_first(path):
    from qmcsim.sweep import load_sweep
    from qmcsim.sweep.execute import iter_points

    cfg, base = load_sweep(path)
    values = points(cfg)
    assert len(values) == (cfg.samples or len(values)) and len(values) >= 5
    first = next(iter_points(cfg, base, values[:1]))
    assert first.error is None and first.tasks
