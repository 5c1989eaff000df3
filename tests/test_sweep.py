"""Sweeps: points, validation before running, one row per point x system."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from qmcsim.sweep import SweepConfig, overrides_of, points
from tests.conftest import DATA


def test_grid_and_zip_points():
    grid = SweepConfig(base="x.yaml", parameters=[{"path": "a", "values": [1, 2]},
                                                  {"path": "b", "values": ["u", "v"]}])
    assert list(points(grid)) == [{"a": 1, "b": "u"}, {"a": 1, "b": "v"},
                                  {"a": 2, "b": "u"}, {"a": 2, "b": "v"}]
    zipped = grid.model_copy(update={"mode": "zip"})
    assert list(points(zipped)) == [{"a": 1, "b": "u"}, {"a": 2, "b": "v"}]
    assert overrides_of({"x.y": 0.25, "z": [1, 2]}) == ["x.y=0.25", "z=[1, 2]"]


def _sweep(tmp_path, values, path="systems.qmc.format.rho"):
    cfg = {"name": "s", "base": str(DATA / "tiny.yaml"), "mode": "grid",
           "parameters": [{"path": path, "values": values},
                          {"path": "workload.generate_tokens", "values": [1]}]}
    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump(cfg))
    return file


def test_sweep_cli_writes_one_row_per_point_and_system(run_cli, tmp_path):
    out = run_cli("sweep", str(_sweep(tmp_path, [0.2, 0.4])), "--out", "res", "--workers", "2",
                  "--no-progress")
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(tmp_path / "res" / "s-001" / "points.csv")
    assert len(table) == 2 * 2
    qmc = table[table.system == "qmc"].set_index("systems.qmc.format.rho")
    # more outliers at 5 bits: more weight bytes
    assert qmc.loc[0.4, "weight_bytes"] > qmc.loc[0.2, "weight_bytes"]
    assert (tmp_path / "res" / "s-001" / "point-001-resolved_config.yaml").is_file()


def test_a_bad_point_fails_before_anything_runs(run_cli, tmp_path):
    out = run_cli("sweep", str(_sweep(tmp_path, [0.2, 1.5])), "--out", "res", "--no-progress")
    assert out.returncode == 2
    assert "systems[1].format.rho" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "res").exists()


def test_dask_sweep_gives_the_same_table_as_local(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from qmcsim.sweep import load_sweep, run_sweep

    cfg, base = load_sweep(_sweep(tmp_path, [0.2, 0.4]))
    local = run_sweep(cfg, base, workers=1)
    # a worker process, as on a cluster: points and results cross a process boundary
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = run_sweep(cfg, base, dask_address=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local, remote)
