"""Benchmark: the 10 m ESA WorldCover tile (1.3 billion pixels) as area fractions on ~1 km grids.

Each case runs in its own subprocess, so its peak memory (``ru_maxrss`` from
``os.wait4``, and a psutil sampler) is its own.  The fractions are computed with
dask's threaded scheduler; nothing big is written.  The tile-wide area of every
land-use group from the fractions (Σ fraction × true cell area) is checked against
a direct block-wise histogram of the tile weighted by each row's true pixel area.

Usage::

    python benchmarks/bench_landcover.py [--tile PATH] [--out benchmarks/results]
                                         [--cases aligned,utm,...] [--threads N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tile() -> Path:
    """The WorldCover tile, from the dataset registry (SOILMAP_DATA, cache or download)."""
    from soilmap.datasets import fetch

    return fetch("worldcover_n00e006")["ESA_WorldCover_10m_2021_v200_N00E006_Map.tif"]


SCHEME = "esa_worldcover"

# Reference grids over the tile (6–9° E, 0–3° N):
# (CRS, transform (a, b, c, d, e, f), shape, chunks or None for class_fractions' default).
CASES = {
    # 1/120° (~926 m): 100 × 100 pixels per cell, aligned, same CRS -> exact kernel.
    "aligned": ("EPSG:4326", (1 / 120, 0, 6.0, 0, -1 / 120, 3.0), (360, 360), None),
    # 0.01° shifted by a fraction of a pixel (32.4 and 49.2 px): exact kernel, cut pixels.
    "lonlat-shifted": ("EPSG:4326", (0.01, 0, 5.9973, 0, -0.01, 3.0041), (301, 301), None),
    # 1 km UTM 32N: another CRS, ~108 pixels per cell -> supersampled kernel.
    "utm": ("EPSG:32632", (1000.0, 0, 166_000.0, 0, -1000.0, 333_000.0), (333, 334), None),
    # 250 m UTM with pipeline-sized 1024² chunks: each task works through sub-blocks.
    "utm-250m-big-chunks": (
        "EPSG:32632",
        (250.0, 0, 166_000.0, 0, -250.0, 333_000.0),
        (1332, 1336),
        (1024, 1024),
    ),
}


class PeakRSS:
    """Sample this process's resident memory every 20 ms in a thread."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _grid(case: str):
    from affine import Affine
    from pyproj import CRS

    from soilmap.grid import Grid

    crs, t, shape, _ = CASES[case]
    return Grid(CRS.from_user_input(crs).to_wkt(), Affine(*t), shape)


def run_case(case: str, tile: Path, threads: int) -> dict:
    """Compute one case (in this process) and return its measurements."""
    import dask
    import numpy as np

    from soilmap.areas import cell_area_ha
    from soilmap.landuse.regrid import class_fractions
    from soilmap.landuse.schemes import load_class_table

    grid, table = _grid(case), load_class_table(SCHEME)
    base_rss = PeakRSS().peak
    with PeakRSS() as rss:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        frac = class_fractions(tile, table, grid, chunks=CASES[case][3])
        build_s = time.perf_counter() - wall0
        with dask.config.set(scheduler="threads", num_workers=threads):
            values = frac.values  # (group, y, x): a few MB
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    area = cell_area_ha(grid).values
    groups = [str(g) for g in frac.group.values]
    group_ha = {g: float((values[i].astype("float64") * area).sum()) for i, g in enumerate(groups)}
    import rasterio

    with rasterio.open(tile) as src:
        pixels = src.width * src.height
    return {
        "case": case,
        "grid": grid.describe(),
        "method": frac.attrs["method"],
        "samples": frac.attrs.get("samples"),
        "chunks": list(frac.data.chunksize[1:]),
        "tasks": int(np.prod(frac.data.numblocks)),
        "threads": threads,
        "build_s": build_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_import_mb": base_rss / 2**20,
        "rss_sampled_peak_mb": rss.peak / 2**20,
        "source_pixels": pixels,
        "target_cells": grid.height * grid.width,
        "source_mpx_per_s": pixels / wall / 1e6,
        "target_cells_per_s": grid.height * grid.width / wall,
        "fraction_min": float(values.min()),
        "covered_max": float(values.sum(axis=0).max()),
        "group_ha": group_ha,
    }


def run_histogram(tile: Path) -> dict:
    """Tile-wide area (ha) per group from a block-wise histogram, rows weighted by true area."""
    import numpy as np
    import rasterio
    from affine import Affine

    from soilmap.areas import cell_area_ha
    from soilmap.grid import Grid
    from soilmap.landuse.schemes import load_class_table
    from soilmap.landuse.table import LUT_NODATA

    table = load_class_table(SCHEME)
    indexer = table.code_to_group_index("error")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    # Whole rows of 1024-pixel tiles are read once each; a small GDAL cache is enough.
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(tile) as src:
        t = src.transform
        column = Grid(src.crs.to_wkt(), Affine(t.a, 0, t.c, 0, t.e, t.f), (src.height, 1))
        row_ha = cell_area_ha(column).values[:, 0]  # one pixel of each row
        per_code = np.zeros(256)
        tile_rows = src.block_shapes[0][0]
        for r0 in range(0, src.height, tile_rows):
            strip = src.read(1, window=((r0, min(r0 + tile_rows, src.height)), (0, src.width)))
            for a in range(0, strip.shape[0], 128):  # 4.6 Mpx of int64 keys at a time
                block = strip[a : a + 128]
                keys = block + (np.arange(block.shape[0]) * 256)[:, None]
                counts = np.bincount(keys.ravel(), minlength=block.shape[0] * 256)
                per_code += counts.reshape(-1, 256).T @ row_ha[r0 + a : r0 + a + block.shape[0]]
    idx = indexer(np.arange(256))
    group_ha = {g: 0.0 for g in indexer.groups}
    for code in np.nonzero(per_code)[0]:
        if idx[code] == LUT_NODATA or code == 0:
            continue
        group_ha[indexer.groups[idx[code]]] += float(per_code[code])
    return {
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
        "group_ha": group_ha,
        "nodata_ha": float(per_code[0]),
    }


def _child(args: list[str]) -> dict:
    """Run ``--child`` in a subprocess; add its peak RSS (ru_maxrss) from wait4."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode()}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    return result


def compare(case: dict, hist: dict) -> dict:
    total = sum(hist["group_ha"].values())
    diffs = {}
    for g, ref in hist["group_ha"].items():
        got = case["group_ha"].get(g, 0.0)
        diffs[g] = {"fractions_ha": got, "histogram_ha": ref, "diff_ha": got - ref}
    got_total = sum(case["group_ha"].values())
    return {
        "total_fractions_ha": got_total,
        "total_histogram_ha": total,
        "total_rel_diff": (got_total - total) / total,
        "max_abs_diff_ha": max(abs(d["diff_ha"]) for d in diffs.values()),
        "max_diff_share_of_total": max(abs(d["diff_ha"]) for d in diffs.values()) / total,
        "groups": diffs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=Path, default=None, help="default: the registry's tile")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tile is None:
        args.tile = _tile()

    if args.child:
        if args.child == "histogram":
            result = run_histogram(args.tile)
        else:
            result = run_case(args.child, args.tile, args.threads)
        print(json.dumps(result))
        return 0

    if not args.tile.exists():
        print(f"skipped: WorldCover tile not found at {args.tile} (pass --tile PATH).")
        return 0
    cases = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(CASES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    import soilmap

    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    hist = _child(["--child", "histogram", "--tile", str(args.tile)])
    print(f"histogram: {hist['wall_s']:.1f} s wall, peak {hist['peak_rss_mb']:.0f} MiB")
    results = []
    for case in cases:
        load = os.getloadavg()[0]
        r = _child(["--child", case, "--tile", str(args.tile), "--threads", str(args.threads)])
        r["load_avg_1min_before"] = load
        r["check"] = compare(r, hist)
        results.append(r)
        print(
            f"{case}: {r['method']} {r['grid']}, {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
            f"peak RSS {r['peak_rss_mb']:.0f} MiB, {r['source_mpx_per_s']:.0f} Mpx/s, "
            f"group areas vs histogram: max |diff| {r['check']['max_diff_share_of_total']:.2e} "
            "of the tile's land-cover area"
        )
    record = {
        "benchmark": "bench_landcover",
        "date": stamp,
        "tile": str(args.tile),
        "scheme": SCHEME,
        "soilmap": soilmap.__version__,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "histogram": hist,
        "cases": results,
    }
    (args.out / "bench_landcover.json").write_text(json.dumps(record, indent=2))
    lines = [
        f"| {stamp[:10]} | {r['case']} | {r['method']} | {r['grid']} | {r['wall_s']:.1f} | "
        f"{r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['source_mpx_per_s']:.0f} | "
        f"{r['target_cells_per_s']:.0f} | {r['check']['max_diff_share_of_total']:.1e} | "
        f"{r['load_avg_1min_before']:.1f} |"
        for r in results
    ]
    md = args.out / "bench_landcover.md"
    if not md.exists():
        md.write_text(
            "| date | case | kernel | grid | wall s | CPU s | peak RSS MiB | source Mpx/s | "
            "cells/s | max group-area diff / tile area | load avg |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
    with md.open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'bench_landcover.json'} and {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
