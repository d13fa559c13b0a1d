"""Runs on a Dask cluster give the threaded run's outputs; memory ceilings size chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio

from soilmap.config import load_config
from soilmap.errors import ConfigError
from soilmap.pipeline.cluster import chunk_cells_for_memory, compute_context, parse_memory
from soilmap.pipeline.run import run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2GB", 2 * 10**9),
        ("1.5 GiB", int(1.5 * 2**30)),
        ("800MB", 8 * 10**8),
        (1024, 1024),
    ],
)
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


def test_parse_memory_rejects_nonsense():
    with pytest.raises(ConfigError, match="like '2GB'"):
        parse_memory("lots")


def test_chunk_budget_arithmetic():
    # 1 GB, 10 layers x 8 bytes x 2, 2 threads -> 1e9 / 320 = 3.125e6 cells
    assert chunk_cells_for_memory(10**9, layers=10, threads=2) == 3_125_000
    assert chunk_cells_for_memory(10**3, layers=10, threads=2) == 256 * 256  # floor


def test_scheduler_and_workers_are_exclusive():
    with pytest.raises(ConfigError, match="not both"), compute_context("tcp://x:1", 2):
        pass


def test_memory_limit_gives_smaller_chunks(sample_dir, tmp_path):
    cfg = load_config(sample_dir / "tigray.toml").with_output(tmp_path / "o")
    import dataclasses

    small = run(dataclasses.replace(cfg, memory_limit="64MB"), progress=False)
    rows, cols = small.manifest["compute"]["chunk_shape"]
    assert rows * cols < 372 * 349  # the default would be the whole sample in one chunk
    assert small.manifest["compute"]["chunk_count"][0] > 1


@pytest.mark.slow
def test_local_cluster_matches_threaded_run(sample_dir, sample_run, tmp_path):
    import dataclasses

    cfg = load_config(sample_dir / "tigray.toml").with_output(tmp_path / "dist")
    cfg = dataclasses.replace(cfg, workers=2, chunks=(110, 200))
    result = run(cfg, progress=False)
    assert "local cluster of 2 processes" in result.manifest["compute"]["where"]
    for name in ("soc_stock.tif", "landuse.tif", "sequestration_rate.tif", "gain_2050.tif"):
        with (
            rasterio.open(sample_run.out_dir / name) as a,
            rasterio.open(result.out_dir / name) as b,
        ):
            assert np.array_equal(a.read(1), b.read(1)), name
    cols = ["area_ha", "soc_stock_t", "sequestration_t_per_yr", "gain_2050_t"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(sample_run.zonal[cols]), pd.DataFrame(result.zonal[cols]), rtol=1e-12
    )


def test_threaded_run_does_not_import_distributed(sample_dir, tmp_path):
    """A local run never imports distributed just to find that no Client exists (0.3 s)."""
    import subprocess
    import sys

    code = (
        "import sys, soilmap\n"
        f"cfg = soilmap.load_config({str(sample_dir / 'tigray.toml')!r})"
        f".with_output({str(tmp_path / 'out')!r})\n"
        "soilmap.run(cfg, progress=False)\n"
        "print('distributed' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
    assert (tmp_path / "out" / "run.json").exists()


def test_a_notebook_client_still_runs_the_graph():
    """With a distributed Client active, a default compute context computes on it."""
    import dask
    from distributed import Client, get_worker

    def where() -> str:
        try:
            return get_worker().address
        except ValueError:
            return "threads"

    with compute_context() as ctx:
        assert ctx.compute(dask.delayed(where)(), progress=False) == ("threads",)
    with (
        Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None),
        compute_context() as ctx,
    ):
        assert ctx.compute(dask.delayed(where)(), progress=False) != ("threads",)
