"""Benchmark: a national run on a global map works on the regions' box, not the world.

Usage::

    python benchmarks/extent_crop.py [--cells 1e9] [--full-timeout 3000]
                                     [--fallback-cells 2.5e7,1e8] [--work /tmp/...]
                                     [--out benchmarks/results]

Data (generated deterministically once per size into ``--work``, default
``/tmp/soilmap-bench-extent/``, reused): a global lon/lat grid (EPSG:4326, 360° × 180°,
2:1 cells-wise; 1e9 cells = 44 722 × 22 361 cells of 0.00805°) holding

* ``soc.tif``: an Int16 SOC stock in t C ha-1 (as the WHRC and SoilGrids products
  store it), smooth sinusoids at continental and regional scales, "ocean" nodata
  −32768 on ~25 % of the cells; tiled 512 × 512, ZSTD + horizontal predictor, written
  strip by strip (never held whole), so it compresses to a small share of its 2 GB;
* ``regions.gpkg``: 20 Voronoi "districts" of an elliptical "country" whose bounding
  box is 36° × 18° (lon 60.3…96.3, lat 10.1…28.1): 1 % of the grid, not aligned to
  the 512-cell blocks.

Measured, each in its own subprocess (the real CLI, ``soilmap -q run``, one horizon,
``--compress zstd``, no land cover):

* ``crop``: the default (``extent = "regions"``): the regions' box;
* ``full``: ``--extent raster``: the whole global raster, the same regions.

Per run: wall time, CPU time (``os.wait4``), peak RSS of the process tree and peak
scratch disk (allocated blocks of everything under the run's folder: the staging
folder's uncompressed scratch rasters plus the COGs), sampled every 0.2 s with psutil
and ``os.scandir``; and the zonal totals.  Checks: every zonal column of the crop run
equals the full run's to a relative 1e-12, and the crop run's time and peak disk are
≤ 2 % of the full run's.

If the full run at ``--cells`` does not finish within ``--full-timeout`` seconds (it is
killed), both runs are measured at each ``--fallback-cells`` size instead, and the
full-extent time and disk at ``--cells`` are extrapolated linearly in the cell count
from the largest fallback size (the scaling between the fallback sizes is reported,
so the linearity can be judged).

Results: ``<out>/extent_crop.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _inputs import BLOCK, run_config, tiled_profile, voronoi_cells, write_regions
from _measure import tree_rss, wait_sampled

REPO = Path(__file__).resolve().parents[1]
NODATA = -32768
SEED = 20261207
#: The regions' box (W, S, E, N): 36° × 18°, 1 % of the globe's 360° × 180°.
BOX = (60.3, 10.1, 96.3, 28.1)
N_REGIONS = 20

CONFIG = run_config(
    """\
# soilmap run configuration written by benchmarks/extent_crop.py
[soc]
stock = "soc.tif"
units = "t C ha-1"
top_cm = 0
bottom_cm = 30
""",
    horizons=[2030],
    compress="zstd",
)


def grid_shape(cells: float) -> tuple[int, int]:
    """(rows, cols) of a global 2:1 grid with about ``cells`` cells."""
    cols = round(math.sqrt(2 * cells))
    cols += cols % 2
    return cols // 2, cols


# --------------------------------------------------------------------------- data


def _soc_strip(row0: int, rows: int, cols: int, res: float) -> np.ndarray:
    """Int16 stock of rows ``row0:row0+rows``: smooth fields, ~25 % ocean nodata."""
    lat = 90.0 - (np.arange(row0, row0 + rows) + 0.5) * res
    lon = -180.0 + (np.arange(cols) + 0.5) * res
    la, lo = np.radians(lat)[:, None], np.radians(lon)[None, :]
    # Continental structure and a regional ripple; separable, so cheap per strip.
    field = 55 + 30 * np.cos(la) * np.sin(3 * lo) + 12 * np.sin(17 * la) * np.cos(23 * lo)
    ocean = np.sin(2 * lo + 0.7) * np.cos(3 * la) > 0.45
    out = np.rint(np.clip(field, 1, 300)).astype("int16")
    out[ocean] = NODATA
    return out


def make_soc(path: Path, cells: float) -> None:
    """The global Int16 SOC raster, written strip by strip (512 rows) to a tiled TIFF."""
    import rasterio

    rows, cols = grid_shape(cells)
    res = 360.0 / cols
    profile = tiled_profile(
        cols, rows, "int16", west=-180.0, north=90.0, res=res, nodata=NODATA, compress="zstd",
        predictor=2,
    )  # fmt: skip
    tmp = path.with_suffix(".part.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.update_tags(1, units="t C ha-1")
        for r0 in range(0, rows, BLOCK):
            h = min(BLOCK, rows - r0)
            dst.write(_soc_strip(r0, h, cols, res), 1, window=((r0, r0 + h), (0, cols)))
    os.replace(tmp, path)


def make_regions(path: Path) -> None:
    """20 Voronoi districts of an ellipse inscribed in :data:`BOX` (its bounding box)."""
    import shapely

    w, s, e, n = BOX
    cx, cy, ax, ay = (w + e) / 2, (s + n) / 2, (e - w) / 2, (n - s) / 2
    t = np.linspace(0, 2 * np.pi, 2001)[:-1]
    # Vertices at t = 0, pi/2, pi, 3pi/2 touch the box's four edges exactly.
    country = shapely.Polygon(np.c_[cx + ax * np.cos(t), cy + ay * np.sin(t)])
    parts = voronoi_cells(np.random.default_rng(SEED), N_REGIONS, BOX)
    parts = shapely.segmentize(shapely.intersection(parts, country), 0.05)
    write_regions(path, parts[~shapely.is_empty(parts)], ids="D{:02d}", names="District {}")


def prepare(work: Path, cells: float) -> dict:
    rows, cols = grid_shape(cells)
    d = work / f"global_{cols}x{rows}"
    d.mkdir(parents=True, exist_ok=True)
    soc = d / "soc.tif"
    gen = None
    if not soc.exists():
        t = time.perf_counter()
        make_soc(soc, cells)
        gen = round(time.perf_counter() - t, 1)
        (d / "generation.json").write_text(json.dumps({"soc_s": gen}))
        print(f"  generated {cols} x {rows} in {gen} s", file=sys.stderr)
    elif (d / "generation.json").exists():
        gen = json.loads((d / "generation.json").read_text())["soc_s"]
    if not (d / "regions.gpkg").exists():
        make_regions(d / "regions.gpkg")
    (d / "run.toml").write_text(CONFIG)
    return {
        "dir": d,
        "shape": [rows, cols],
        "cells": rows * cols,
        "soc_bytes": soc.stat().st_size,
        "soc_uncompressed_bytes": rows * cols * 2,
        "generation_s": gen,
    }


# --------------------------------------------------------------------------- measuring


def _disk_bytes(folder: Path) -> int:
    """Allocated bytes of every file under ``folder`` (sparse scratch counted as used)."""
    total = 0
    stack = [folder]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total


def measure(cmd: list[str], folder: Path, log: Path, timeout: float | None) -> dict:
    """Run ``cmd``: wall, CPU, peak RSS of the tree, peak disk under ``folder``."""
    import psutil

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    with log.open("w") as err:
        child = subprocess.Popen(cmd, cwd=REPO, stderr=err, start_new_session=True)
    ps = psutil.Process(child.pid)
    peak = {"rss": 0, "disk": 0}

    def sample() -> bool:
        peak["rss"] = max(peak["rss"], tree_rss(ps))
        peak["disk"] = max(peak["disk"], _disk_bytes(folder))
        if timeout is not None and time.perf_counter() - t0 > timeout:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            return False
        return True

    code, ru, wall = wait_sampled(child, t0, sample, 0.2)
    out = {
        "command": " ".join(cmd),
        "exit_code": code,
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_rss_tree_mb": round(peak["rss"] / 2**20, 1),
        "peak_disk_mb": round(peak["disk"] / 2**20, 1),
        "loadavg_before": [round(v, 2) for v in load0],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
    }
    if timeout is not None and wall > timeout:
        out["timed_out_after_s"] = timeout
    elif code != 0:
        out["failed"] = log.read_text()[-1500:]
    print(
        f"  {' '.join(cmd[3:])}: exit {code}, {out['wall_s']} s wall, "
        f"{out['cpu_s']} s CPU, {out['peak_rss_tree_mb']:.0f} MB RSS, "
        f"{out['peak_disk_mb']:.0f} MB disk",
        file=sys.stderr,
    )
    return out


def run_one(data: dict, label: str, timeout: float | None) -> tuple[dict, object]:
    """``soilmap -q run run.toml --out runs/<label>/out [--extent raster]``."""
    import pandas as pd

    folder = data["dir"] / "runs" / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out_dir = folder / "out"
    exe = Path(sys.executable).with_name("soilmap")
    cmd = [str(exe), "-q", "run", str(data["dir"] / "run.toml"), "--out", str(out_dir)]
    if label == "full":
        cmd += ["--extent", "raster"]
    res = measure(cmd, folder, data["dir"] / f"{label}.stderr.txt", timeout)
    if res["exit_code"] != 0 or "timed_out_after_s" in res:
        shutil.rmtree(folder, ignore_errors=True)
        return res, None
    manifest = json.loads((out_dir / "run.json").read_text())
    res["extent"] = manifest.get("extent")
    res["timings_s"] = manifest.get("timings_s")
    res["output_bytes"] = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    # Parquet keeps float64 exactly (the CSV rounds to 10 digits).
    table = pd.read_parquet(out_dir / "zonal_stats.parquet").sort_values(["region_id", "landuse"])
    table = table.drop(columns=[c for c in ("geometry",) if c in table.columns])
    # Without land cover each region has one row, its "all_land" group.
    res["totals"] = {
        c: float(table[c].sum())
        for c in ("area_ha", "soc_stock_t", "sequestration_t_per_yr", "gain_2030_t")
    }
    shutil.rmtree(folder, ignore_errors=True)  # tens of GB at 1e9 cells
    return res, table.reset_index(drop=True)


def compare(crop, full) -> dict:
    """Largest relative difference of every numeric zonal column (crop vs full)."""
    import pandas as pd

    assert list(crop["region_id"]) == list(full["region_id"])
    worst = {}
    for c in crop.columns:
        if not pd.api.types.is_numeric_dtype(crop[c]):
            continue
        a, b = crop[c].to_numpy(float), full[c].to_numpy(float)
        both = np.isfinite(a) & np.isfinite(b)
        assert (np.isfinite(a) == np.isfinite(b)).all(), c
        scale = np.maximum(np.abs(b[both]), 1e-300)
        worst[c] = float(np.max(np.abs(a[both] - b[both]) / scale)) if both.any() else 0.0
    return worst


def startup_s() -> float:
    """Wall time of ``soilmap --version``: interpreter start and imports, a fixed cost."""
    exe = Path(sys.executable).with_name("soilmap")
    t = time.perf_counter()
    subprocess.run([str(exe), "--version"], check=True, capture_output=True)
    return round(time.perf_counter() - t, 2)


def bench(
    work: Path,
    cells: float,
    timeout: float | None,
    repeats: int = 1,
    reuse: dict | None = None,
) -> dict:
    """Crop runs (the median of ``repeats`` by wall time) and one full run, or the full
    run of ``reuse`` (an earlier result of the same size: its table is re-read)."""
    data = prepare(work, cells)
    print(f"size {data['shape']} ({data['cells']:.3g} cells)", file=sys.stderr)
    crops = [run_one(data, "crop", None) for _ in range(repeats)]
    crops.sort(key=lambda rt: rt[0]["wall_s"])
    crop, crop_table = crops[len(crops) // 2]
    if repeats > 1:
        crop["repeats_wall_s"] = [rt[0]["wall_s"] for rt in crops]
        crop["repeats_cpu_s"] = [rt[0]["cpu_s"] for rt in crops]
    if reuse is not None:
        full = dict(reuse["full"], reused_from=reuse["date"])
        records = reuse.get("full_table")
        full_table = pd_from_records(records) if records is not None else None
    else:
        full, full_table = run_one(data, "full", timeout)
    entry = {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}
    entry |= {"crop": crop, "full": full, "startup_s": startup_s()}
    if full_table is not None:
        # Kept (float64 exact in JSON) so the crop run can be re-measured alone.
        entry["full_table"] = full_table.to_dict(orient="records")
    if crop_table is not None and full_table is not None:
        worst = compare(crop_table, full_table)
        entry["max_rel_diff_zonal"] = worst
        entry["totals_equal_1e-12"] = max(worst.values()) <= 1e-12
    elif crop_table is not None and reuse is not None:
        # The earlier result kept no table: its crop-vs-full comparison stands if this
        # crop run gives bit for bit the earlier crop run's totals.
        entry["same_totals_as_earlier_crop"] = crop["totals"] == reuse["crop_totals"]
        entry["max_rel_diff_zonal"] = reuse["max_rel_diff_zonal"]
        entry["totals_equal_1e-12"] = reuse["totals_equal"] and entry["same_totals_as_earlier_crop"]
    if crop_table is not None and "wall_s" in full and "timed_out_after_s" not in full:
        entry["crop_share"] = {
            "wall": round(crop["wall_s"] / full["wall_s"], 4),
            "cpu": round(crop["cpu_s"] / full["cpu_s"], 4),
            "peak_disk": round(crop["peak_disk_mb"] / full["peak_disk_mb"], 4),
            "peak_rss": round(crop["peak_rss_tree_mb"] / full["peak_rss_tree_mb"], 4),
            "cells": crop["extent"]["share_of_raster"],
        }
    return entry


def pd_from_records(records: list[dict]):
    import pandas as pd

    return pd.DataFrame.from_records(records)


def machine() -> dict:
    import psutil
    import rasterio

    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "gdal": rasterio.__gdal_version__,
        "rasterio": rasterio.__version__,
        "soilmap_commit": commit,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=float, default=1e9)
    ap.add_argument("--full-timeout", type=float, default=3000.0)
    ap.add_argument("--fallback-cells", default="2.5e7,1e8")
    ap.add_argument("--work", type=Path, default=Path("/tmp/soilmap-bench-extent"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--crop-repeats", type=int, default=3)
    ap.add_argument(
        "--reuse-full",
        type=Path,
        help="an earlier extent_crop.json: re-measure the crop runs only, against its "
        "full-extent run of the same size",
    )
    args = ap.parse_args(argv)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    reuse = None
    if args.reuse_full is not None:
        earlier = json.loads(args.reuse_full.read_text())
        size = next(
            s
            for s in earlier["sizes"]
            if s["cells"] == grid_shape(args.cells)[0] * grid_shape(args.cells)[1]
        )
        reuse = {
            "full": size["full"],
            "full_table": size.get("full_table"),
            "date": earlier["date"],
            "crop_totals": size["crop"]["totals"],
            "max_rel_diff_zonal": size.get("max_rel_diff_zonal"),
            "totals_equal": size.get("totals_equal_1e-12", False),
        }
    main_entry = bench(args.work, args.cells, args.full_timeout, args.crop_repeats, reuse)
    summary: dict = {
        "date": started,
        "machine": machine(),
        "target": "crop run <= 2 % of the full-extent run's time and scratch disk; "
        "zonal totals equal to 1e-12",
        "box": list(BOX),
        "sizes": [main_entry],
    }
    if "crop_share" not in main_entry:
        # The full-extent run at --cells did not finish: measure both at smaller sizes
        # and extrapolate the full run linearly in cells from the largest of them.
        for c in sorted(float(v) for v in args.fallback_cells.split(",")):
            summary["sizes"].append(bench(args.work, c, None))
        done = [s for s in summary["sizes"][1:] if "crop_share" in s]
        if done:
            big = done[-1]
            k = main_entry["cells"] / big["cells"]
            summary["extrapolated_full"] = {
                "from_cells": big["cells"],
                "factor": k,
                "wall_s": round(big["full"]["wall_s"] * k, 1),
                "peak_disk_mb": round(big["full"]["peak_disk_mb"] * k, 1),
                "crop_share_wall": round(
                    main_entry["crop"]["wall_s"] / (big["full"]["wall_s"] * k), 4
                ),
                "crop_share_disk": round(
                    main_entry["crop"]["peak_disk_mb"] / (big["full"]["peak_disk_mb"] * k), 4
                ),
            }
            if len(done) > 1:
                a, b = done[0], done[-1]
                summary["full_scaling"] = {
                    "cells_ratio": b["cells"] / a["cells"],
                    "wall_ratio": round(b["full"]["wall_s"] / a["full"]["wall_s"], 2),
                    "disk_ratio": round(b["full"]["peak_disk_mb"] / a["full"]["peak_disk_mb"], 2),
                }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "extent_crop.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
