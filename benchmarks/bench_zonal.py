"""Benchmark: exact zonal totals with soilmap vs exactextract vs rasterstats.

Usage::

    python benchmarks/bench_zonal.py [--cells 1e8] [--regions 500] [--out benchmarks/results]

Data (generated deterministically once into ``benchmarks/work/``, git-ignored, and
reused): a float32 lon/lat raster shaped like a continental SOC stock map (smooth
structure, fine noise, ~30 % "sea" nodata; tiled 512 × 512 DEFLATE GeoTIFF), its
true cell areas as a second GeoTIFF (exactextract's weights), and a Voronoi
partition of random points clipped to the raster (the regions).

Every method runs in its own subprocess, so its wall time and peak RSS
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``) are its own:

* ``soilmap``: :func:`soilmap.zonal.sums.zonal_sums` (area with data, Σ value × true area,
  min, max) with dask threads on every core;
* ``exactextract``: ``exact_extract(raster, regions, ["weighted_sum", "weighted_mean",
  "min", "max"], weights=<cell area raster>)``, the same statistics, exact, in one
  call (single-threaded; its default feature-sequential strategy);
* ``rasterstats``: ``zonal_stats(..., stats=["sum", "count", "min", "max"])``: cells
  wholly in or out by centroid, no area weighting.  If the whole run would exceed
  ``--rasterstats-budget`` seconds, it runs on the first ``--rasterstats-subset``
  regions and the time is extrapolated per region (said so in the output).

Results: ``<out>/zonal_<cells>_<regions>.json`` and one Markdown line appended to
``<out>/zonal_results.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"

# A "continent": 50° × 50° of lon/lat, so cell areas vary by cos(latitude) 2.5×.
WEST, SOUTH, SPAN = -10.0, 20.0, 50.0
NODATA = -9999.0


# --------------------------------------------------------------------------- data


def _field(x: np.ndarray, y: np.ndarray, seed: int, waves: int = 12) -> np.ndarray:
    """Smooth deterministic field in [-1, 1]: a sum of random plane waves."""
    rng = np.random.default_rng(seed)
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape))
    for _ in range(waves):
        k = rng.uniform(0.05, 0.6, 2) * rng.choice([-1, 1], 2)
        out += np.cos(k[0] * x + k[1] * y + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.3, 1)
    return out / waves * 2.5


def make_raster(path: Path, n: int) -> None:
    """Write the SOC-like raster (n × n cells) in strips: memory stays ~ one strip."""
    import rasterio
    from affine import Affine

    res = SPAN / n
    profile = {
        "driver": "GTiff",
        "width": n,
        "height": n,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(res, 0, WEST, 0, -res, SOUTH + SPAN),
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "predictor": 3,
        "bigtiff": "if_safer",
        "num_threads": "all_cpus",
    }
    tmp = path.with_suffix(".part.tif")
    x = WEST + res * (np.arange(n) + 0.5)
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp, "w", **profile) as dst:
        dst.set_band_unit(1, "t C ha-1")
        dst.update_tags(units="t C ha-1", long_name="synthetic SOC stock 0-30 cm")
        for r0 in range(0, n, 512):
            rows = min(512, n - r0)
            y = (SOUTH + SPAN - res * (np.arange(r0, r0 + rows) + 0.5))[:, None]
            soc = 45.0 * (1.0 + 0.6 * _field(x[None, :], y, 1)) + 8.0 * _field(
                x[None, :] * 7, y * 7, 2
            )
            noise = np.random.default_rng(1000 + r0).normal(0.0, 2.0, (rows, n))
            soc = np.maximum(soc + noise, 0.0)
            sea = _field(x[None, :], y, 3) < -0.35
            block = np.where(sea, NODATA, soc).astype("float32")
            dst.write(block, 1, window=rasterio.windows.Window(0, r0, n, rows))
    os.replace(tmp, path)


def make_area_raster(path: Path, raster: Path) -> None:
    """True cell areas (ha, float64) on the raster's grid: exactextract's weights."""
    import rasterio

    from soilmap.areas import cell_area_ha
    from soilmap.io.raster import read_layout

    grid = read_layout(raster).grid
    column = cell_area_ha(
        type(grid)(grid.crs_wkt, grid.transform, (grid.height, 1))
    ).values  # geographic: one value per row
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "float64",
        "crs": grid.crs_wkt,
        "transform": grid.transform,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "bigtiff": "if_safer",
    }
    tmp = path.with_suffix(".part.tif")
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp, "w", **profile) as dst:
        dst.set_band_unit(1, "ha")
        for r0 in range(0, grid.height, 512):
            rows = min(512, grid.height - r0)
            block = np.repeat(column[r0 : r0 + rows], grid.width, axis=1)
            dst.write(block, 1, window=rasterio.windows.Window(0, r0, grid.width, rows))
    os.replace(tmp, path)


def make_regions(path: Path, count: int) -> None:
    """Voronoi polygons of ``count`` random points, clipped to the raster."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(7)
    pts = shapely.multipoints(rng.uniform((WEST, SOUTH), (WEST + SPAN, SOUTH + SPAN), (count, 2)))
    box = shapely.box(WEST, SOUTH, WEST + SPAN, SOUTH + SPAN)
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box))
    cells = shapely.intersection(cells, box)
    # Real boundaries have a vertex every few cells, not only at corners.
    cells = shapely.segmentize(cells, SPAN / 2000)
    gdf = gpd.GeoDataFrame(
        {"region_id": [f"R{i:05d}" for i in range(len(cells))]}, geometry=cells, crs=4326
    )
    tmp = path.with_suffix(".part.gpkg")
    gdf.to_file(tmp, driver="GPKG", engine="pyogrio")
    os.replace(tmp, path)


def prepare(cells: float, regions: int) -> dict[str, Path]:
    n = round(np.sqrt(cells))
    WORK.mkdir(exist_ok=True)
    paths = {
        "raster": WORK / f"soc_{n}.tif",
        "area": WORK / f"cell_area_{n}.tif",
        "regions": WORK / f"regions_{regions}.gpkg",
    }
    if not paths["raster"].exists():
        t = time.perf_counter()
        make_raster(paths["raster"], n)
        print(f"wrote {paths['raster']} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if not paths["area"].exists():
        make_area_raster(paths["area"], paths["raster"])
    if not paths["regions"].exists():
        make_regions(paths["regions"], regions)
    return paths


# --------------------------------------------------------------------------- methods


def run_soilmap(paths: dict[str, Path], subset: int | None) -> dict:
    import dask
    import geopandas as gpd

    from soilmap.areas import cell_area_ha
    from soilmap.grid import Grid
    from soilmap.io.raster import open_raster
    from soilmap.landuse.fractions import uniform_fractions
    from soilmap.zonal.regions import regions_on_grid
    from soilmap.zonal.sums import zonal_sums

    t0 = time.perf_counter()
    soc = open_raster(paths["raster"])
    grid = Grid.from_dataarray(soc)
    area = cell_area_ha(grid, chunks=(soc.chunks[0][0], soc.chunks[1][0]))
    area = area.chunk({"y": soc.chunks[0], "x": soc.chunks[1]})
    regions = gpd.read_file(paths["regions"], engine="pyogrio")[:subset]
    regions = regions_on_grid(regions, grid, what="regions")
    lazy = zonal_sums(uniform_fractions(soc), area, {"soc": soc}, regions, grid)
    (sums,) = dask.compute(lazy, scheduler="threads")
    f = sums.frame(regions)
    return {
        "seconds": time.perf_counter() - t0,
        "area_ha": f["area_ha"].tolist(),
        "total": f["soc_sum"].tolist(),
        "min": f["soc_min"].tolist(),
        "max": f["soc_max"].tolist(),
    }


def run_exactextract(paths: dict[str, Path], subset: int | None) -> dict:
    import geopandas as gpd
    from exactextract import exact_extract

    t0 = time.perf_counter()
    regions = gpd.read_file(paths["regions"], engine="pyogrio")[:subset]
    out = exact_extract(
        str(paths["raster"]),
        regions,
        ["weighted_sum", "weighted_mean", "min", "max"],
        weights=str(paths["area"]),
        output="pandas",
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        area = np.where(out["weighted_sum"] > 0, out["weighted_sum"] / out["weighted_mean"], 0.0)
    return {
        "seconds": time.perf_counter() - t0,
        "area_ha": area.tolist(),
        "total": out["weighted_sum"].tolist(),
        "min": out["min"].tolist(),
        "max": out["max"].tolist(),
    }


def run_rasterstats(paths: dict[str, Path], subset: int | None) -> dict:
    import geopandas as gpd
    from rasterstats import zonal_stats

    t0 = time.perf_counter()
    regions = gpd.read_file(paths["regions"], engine="pyogrio")[:subset]
    stats = zonal_stats(
        regions, str(paths["raster"]), stats=["sum", "count", "min", "max"], nodata=NODATA
    )
    return {
        "seconds": time.perf_counter() - t0,
        "sum_of_values": [s["sum"] for s in stats],
        "count": [s["count"] for s in stats],
        "min": [s["min"] for s in stats],
        "max": [s["max"] for s in stats],
    }


METHODS = {"soilmap": run_soilmap, "exactextract": run_exactextract, "rasterstats": run_rasterstats}


def child(method: str, paths: dict[str, Path], subset: int | None, result: Path) -> None:
    """Run one method in this (fresh) process and write its result JSON."""
    out = METHODS[method]({k: Path(v) for k, v in paths.items()}, subset)
    # Linux reports ru_maxrss in KiB: this process's own peak, imports included.
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result.write_text(json.dumps(out))


def measure(method: str, paths: dict[str, Path], subset: int | None) -> dict:
    """Run ``method`` in a fresh subprocess (its own peak RSS); add the wall time."""
    result = WORK / f"result_{method}.json"
    result.unlink(missing_ok=True)
    spec = json.dumps({k: str(v) for k, v in paths.items()})
    code = (
        f"import json, sys, pathlib; sys.path.insert(0, {str(HERE)!r}); "
        f"import bench_zonal as b; b.child({method!r}, json.loads({spec!r}), {subset!r}, "
        f"pathlib.Path({str(result)!r}))"
    )
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    wall = time.perf_counter() - t
    out = json.loads(result.read_text())
    out["wall_seconds"] = wall
    return out


def _mean_cell_area_ha(raster: Path) -> float:
    from soilmap.areas import total_area_ha
    from soilmap.io.raster import read_layout

    grid = read_layout(raster).grid
    return total_area_ha(grid) / (grid.height * grid.width)


def rel_diff(a: list, b: list) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.maximum(np.abs(a), np.abs(b))
    ok = scale > 0
    return float(np.max(np.abs(a - b)[ok] / scale[ok])) if ok.any() else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=float, default=1e8)
    ap.add_argument("--regions", type=int, default=500)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--methods", default="soilmap,exactextract,rasterstats")
    ap.add_argument("--rasterstats-budget", type=float, default=600.0)
    ap.add_argument("--rasterstats-subset", type=int, default=50)
    args = ap.parse_args(argv)

    paths = prepare(args.cells, args.regions)
    import geopandas as gpd

    n_regions = len(gpd.read_file(paths["regions"], engine="pyogrio"))
    methods = args.methods.split(",")
    res: dict[str, dict] = {}
    notes = []
    for m in methods:
        subset = None
        if m == "rasterstats":
            # Probe on a few regions first: the full run may take far too long.
            probe = measure(m, paths, 10)
            per_region = probe["seconds"] / 10
            if per_region * n_regions > args.rasterstats_budget:
                subset = args.rasterstats_subset
                notes.append(
                    f"rasterstats ran on the first {subset} of {n_regions} regions "
                    f"(a full run would take ~{per_region * n_regions:.0f} s); its time is "
                    "extrapolated per region"
                )
        print(f"running {m} ...", file=sys.stderr)
        r = measure(m, paths, subset)
        r["regions_run"] = subset or n_regions
        r["seconds_all_regions"] = r["seconds"] * n_regions / r["regions_run"]
        res[m] = r
        print(
            f"  {m}: {r['seconds_all_regions']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB",
            file=sys.stderr,
        )

    ref = res.get("soilmap", {}).get("seconds_all_regions")
    summary = {
        "date": datetime.date.today().isoformat(),
        "cells": round(np.sqrt(args.cells)) ** 2,
        "regions": n_regions,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "notes": notes,
        "methods": {
            m: {
                "seconds": round(r["seconds_all_regions"], 2),
                "peak_rss_mb": round(r["peak_rss_mb"], 1),
                "time_ratio_to_soilmap": round(r["seconds_all_regions"] / ref, 2) if ref else None,
                "regions_run": r["regions_run"],
            }
            for m, r in res.items()
        },
    }
    if "soilmap" in res and "exactextract" in res:
        s, e = res["soilmap"], res["exactextract"]
        summary["max_rel_diff_totals_soilmap_vs_exactextract"] = rel_diff(s["total"], e["total"])
        summary["max_rel_diff_area_soilmap_vs_exactextract"] = rel_diff(s["area_ha"], e["area_ha"])
        summary["max_abs_diff_min_max"] = max(
            float(np.nanmax(np.abs(np.subtract(s[k], e[k], dtype=float)))) for k in ("min", "max")
        )
        summary["grand_total_t"] = {
            "soilmap": float(np.sum(s["total"])),
            "exactextract": float(np.sum(e["total"])),
        }
    if "soilmap" in res and "rasterstats" in res:
        # What a rasterstats user would quote: Σ values × one nominal cell area (the
        # raster's mean), cells wholly in or out by centroid.
        s, r = res["soilmap"], res["rasterstats"]
        k = len(r["sum_of_values"])
        nominal = _mean_cell_area_ha(paths["raster"])
        naive = np.array([v or 0.0 for v in r["sum_of_values"]]) * nominal
        exact = np.asarray(s["total"][:k])
        ok = exact > 0
        summary["rasterstats_naive_total_rel_error"] = {
            "max_over_regions": float(np.max(np.abs(naive[ok] / exact[ok] - 1))),
            "all_regions_run": float(naive.sum() / exact.sum() - 1),
            "nominal_cell_area_ha": nominal,
        }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"zonal_{summary['cells']:.0e}_{n_regions}".replace("+", "")
    (args.out / f"{stem}.json").write_text(json.dumps(summary, indent=2) + "\n")
    line = (
        f"| {summary['date']} | {summary['cells']:,} | {n_regions} | "
        + "; ".join(
            f"{m} {v['seconds']:.1f} s ({v['time_ratio_to_soilmap']}×), {v['peak_rss_mb']:.0f} MB"
            for m, v in summary["methods"].items()
        )
        + f" | {summary.get('max_rel_diff_totals_soilmap_vs_exactextract', float('nan')):.1e} |"
    )
    md = args.out / "zonal_results.md"
    if not md.exists():
        md.write_text(
            "| date | cells | regions | time (ratio to soilmap), peak RSS | max rel. diff of "
            "totals, soilmap vs exactextract |\n|---|---|---|---|---|\n"
        )
    with md.open("a") as fh:
        fh.write(line + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
