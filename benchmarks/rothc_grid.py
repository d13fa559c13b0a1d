"""Benchmark: gridded RothC on 1e6 cells (spin-up, 20-yr warm-up, four 20-yr scenarios).

Run: ``python benchmarks/rothc_grid.py [--side 1000] [--chunk 250]``; writes
``benchmarks/results/rothc_grid.json``.  Compares with a pure-Python per-point loop of
the same model (:mod:`soilmap.rothc.scalar`) on a sample of cells.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import xarray as xr

from soilmap.rothc.grid import GridInputs, run_grid
from soilmap.rothc.scalar import step_year

SCEN = {"BAU": 1.0, "SSM1": 1.05, "SSM2": 1.10, "SSM3": 1.20}


def inputs(side: int, chunk: int) -> GridInputs:
    rs = da.random.RandomState(1)
    c2 = (chunk, chunk)

    def g(a):
        return xr.DataArray(a, dims=("month", "y", "x") if a.ndim == 3 else ("y", "x"))

    m = da.arange(12, chunks=12)[:, None, None]
    temp = (
        12
        + 10 * da.sin(2 * np.pi * (m - 3) / 12)
        + rs.uniform(-8, 8, (1, side, side), chunks=(1, *c2))
    )
    months = lambda lo, hi: rs.uniform(lo, hi, (12, side, side), chunks=(12, *c2))
    wm = lambda lo, hi: rs.uniform(lo, hi, (240, side, side), chunks=(240, *c2))
    return GridInputs(
        clay=g(rs.uniform(5, 60, (side, side), chunks=c2)),
        soc=g(rs.uniform(20, 90, (side, side), chunks=c2)),
        temp=g(temp),
        rain=g(months(0, 140)),
        evap=g(months(0, 150)),
        plant=g(rs.uniform(1, 6, (side, side), chunks=c2)),
        cover=g((months(0, 1) > 0.3).astype(float)),
        input_share=g(da.full((12, side, side), 1 / 12, chunks=(12, *c2))),
        dpm_rpm=g(da.full((side, side), 1.44, chunks=c2)),
        warmup=(
            g(da.concatenate([temp] * 20).rechunk((240, *c2)) + wm(-1, 1)),
            g(wm(0, 140)),
            g(wm(0, 150)),
        ),
        depth_cm=30.0,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=125)
    args = ap.parse_args()
    n = args.side**2
    load = os.getloadavg()
    ds = run_grid(inputs(args.side, args.chunk), scenarios=SCEN, horizons=[20])
    t0 = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=2):
        ssm3, status = dask.compute(ds["soc_SSM3_20"].data, ds["status"].data)
    sums = {"soc_SSM3_20": float(np.nansum(ssm3))}
    wall = time.perf_counter() - t0
    cell_months = n * (12 + 240 + 4 * 240)
    # pure-Python per-point loop of the same model (forward months only, one scenario)
    year = [(10.0, 60.0, 50.0, 1)] * 12
    k, t1 = 200, time.perf_counter()
    for _ in range(k):
        pools, smd = [0.0] * 4, 0.0
        for _y in range(20):
            pools, smd = step_year(pools, smd, year, [0.2] * 12, 1.44, 25.0, 30.0)
    py_rate = k * 240 / (time.perf_counter() - t1)
    res = {
        "cells": n,
        "chunk": args.chunk,
        "scenarios": list(SCEN),
        "warmup_years": 20,
        "years": 20,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cell_months": cell_months,
        "cell_months_per_s": round(cell_months / wall),
        "pure_python_cell_months_per_s": round(py_rate),
        "speedup_vs_pure_python": round(cell_months / wall / py_rate, 1),
        "calibrated_cells": int((status == 0).sum()),
        "load_avg_at_start": load,
        "check_sum_soc_SSM3_20": sums["soc_SSM3_20"],
        "machine": "2 cores shared with other helpers (see load_avg_at_start)",
    }
    out = Path(__file__).parent / "results" / "rothc_grid.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
