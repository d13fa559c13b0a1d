"""Time ``write_report`` on a large result folder and count what it reads (1e8 cells: < 10 s).

Builds a result folder as a run writes it, with soilmap's own output code
(:func:`soilmap.outputs.write.create_targets`: the same COG options, overview levels,
embedded palette and ``.qml`` styles): ``soc_stock``, ``landuse`` (paletted) and
``sequestration_rate`` on a ``side x side`` grid (250 m cells, UTM 37N), written strip
by strip so a 1e9-cell folder needs no more than a few hundred MB of memory; a zonal
table of ``regions`` boxes (Parquet + GeoPackage with layer ``regions``) and run.json.
Then it times the report and, in a second call, counts the bytes it reads from each
COG by resolution level (:func:`soilmap.testing.count_tiff_reads`): the report must
read overviews only.  Usage::

    python benchmarks/report_speed.py [--side 10000] [--regions 200] [--keep DIR]

Results are appended to benchmarks/results/report_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import dask.array as dsa
import geopandas as gpd
import numpy as np
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import shapely
import xarray as xr
from rasterio.windows import Window

from soilmap.io.staging import OutputStage
from soilmap.outputs.write import (
    Continuous,
    Paletted,
    RasterOutput,
    create_targets,
    write_styles,
    write_tables,
)
from soilmap.report import write_report
from soilmap.testing import count_tiff_reads, make_grid

RESULTS = Path(__file__).with_name("results") / "report_speed.json"
CRS = "EPSG:32637"
CELL = 250.0
STRIP = 512
ENTRIES = (
    (0, "#d9d9d9", "excluded"),
    (1, "#f096ff", "cropland"),
    (2, "#ffff4c", "grassland"),
    (3, "#006400", "forest"),
)


def _layer(grid, units: str, name: str, dtype: str = "float32") -> xr.DataArray:
    """A lazy layer on ``grid`` (metadata only: the pixels are written strip by strip)."""
    data = dsa.zeros(grid.shape, chunks=(4096, 4096), dtype=dtype)
    da = xr.DataArray(
        data,
        dims=("y", "x"),
        coords={"y": grid.ys(), "x": grid.xs()},
        attrs={"units": units, "long_name": name, "history": ""},
    )
    return da.rio.write_crs(CRS)


def _stock_rows(r0: int, r1: int, side: int) -> np.ndarray:
    """A smooth SOC stock field (t C ha-1) with noise, rows ``r0:r1``."""
    y = (np.arange(r0, r1, dtype="float32") / side)[:, None]
    x = (np.arange(side, dtype="float32") / side)[None, :]
    noise = np.random.default_rng(r0).normal(0, 5, (r1 - r0, side)).astype("float32")
    return 40 + 60 * np.sin(3 * x) ** 2 + 40 * y + noise


def build_rasters(folder: Path, side: int) -> None:
    """The three COGs and their styles, written as a run writes them."""
    grid = make_grid((side, side), crs=CRS, res=CELL, origin=(500_000.0, 2_000_000.0))
    rasters = {
        "soc_stock": RasterOutput(
            _layer(grid, "t C ha-1", "initial SOC stock"), Continuous("YlOrBr")
        ),
        "landuse": RasterOutput(
            _layer(grid, "1", "dominant land-use group", "uint8"),
            Paletted(ENTRIES),
            nodata=255,
            dtype="uint8",
            resampling="mode",
        ),
        "sequestration_rate": RasterOutput(
            _layer(grid, "t C ha-1 yr-1", "annual sequestration"), Continuous("YlGn")
        ),
    }
    with OutputStage(folder, [], overwrite=True) as stage:
        targets = create_targets(stage, rasters, compress="deflate")
        files = {k: rasterio.open(t.scratch, "r+") for k, t in targets.items()}
        try:
            for r0 in range(0, side, STRIP):
                r1 = min(side, r0 + STRIP)
                stock = _stock_rows(r0, r1, side)
                w = Window(0, r0, side, r1 - r0)
                files["soc_stock"].write(stock, 1, window=w)
                files["sequestration_rate"].write(stock * np.float32(0.004), 1, window=w)
                files["landuse"].write((stock.astype("int32") % 4).astype("uint8"), 1, window=w)
        finally:
            for f in files.values():
                f.close()
        written = {k: t.finish() for k, t in targets.items()}
        ranges = {"soc_stock": (20.0, 160.0), "sequestration_rate": (0.08, 0.64)}
        stretches = {"soc_stock": (45.0, 140.0), "sequestration_rate": (0.18, 0.56)}
        write_styles(written, rasters, ranges, stretches)
        stage.commit()


def build_tables(folder: Path, side: int, n_regions: int) -> None:
    """The zonal table of ``n_regions`` boxes tiling the grid, and run.json."""
    k = int(np.ceil(np.sqrt(n_regions)))
    step = side * CELL / k
    rows, geoms = [], []
    for i in range(n_regions):
        box = shapely.box(
            500_000 + (i % k) * step,
            2_000_000 - (i // k + 1) * step,
            500_000 + (i % k + 1) * step,
            2_000_000 - (i // k) * step,
        )
        area = step * step / 1e4
        for g, elig in (("cropland", True), ("forest", True), ("excluded", False), ("all", False)):
            share = {"cropland": 0.5, "forest": 0.3, "excluded": 0.2, "all": 1.0}[g]
            seq = 0.36 * area * (0.8 if g == "all" else share) if (elig or g == "all") else 0.0
            rows.append(
                dict(
                    region_id=f"R{i}",
                    region_name=f"Region {i}",
                    landuse=g,
                    area_ha=area * share,
                    soc_stock_t=90 * area * share,
                    sequestration_t_per_yr=seq,
                    co2e_t_per_yr=seq * 44 / 12,
                    gain_2030_t=seq * 10,
                    gain_2050_t=seq * 30,
                    eligible=elig,
                    region_area_ha=area,
                    covered_share=1.0,
                    scenario="p4",
                )
            )
            geoms.append(box)
    table = gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)
    with OutputStage(folder, [], overwrite=True) as stage:
        write_tables(
            stage,
            table,
            "zonal_stats",
            units={},
            metadata={},
            formats=("gpkg", "parquet"),
            with_regions=True,
        )
        stage.commit()
    manifest = {
        "soilmap_run": 1,
        "parameters": {"scenarios": [{"name": "p4", "rate": 0.004, "start_year": 2020}]},
        "inputs": [],
        "software": {},
    }
    (folder / "run.json").write_text(json.dumps(manifest))


def _reads(folder: Path) -> dict[str, dict[str, int]]:
    """Bytes the report reads from each COG, by resolution level."""
    with count_tiff_reads() as reads:
        write_report(folder)
    return {
        Path(p).name: {
            "file_bytes": r.size,
            "full_resolution_bytes": r.full_resolution,
            "overview_bytes": r.overviews,
            "other_bytes": r.other,
            "reads": len(r.reads),
        }
        for p, r in sorted(reads.items())
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=10_000)
    ap.add_argument("--regions", type=int, default=200)
    ap.add_argument("--keep")
    a = ap.parse_args()
    folder = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="soilmap-report-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (folder / "soc_stock.tif").exists():
        build_rasters(folder, a.side)
    build_tables(folder, a.side, a.regions)
    t1 = time.perf_counter()
    c1 = time.process_time()
    write_report(folder)
    t2, c2 = time.perf_counter(), time.process_time()
    write_report(folder)  # warm: matplotlib's fonts and imports are loaded
    t3, c3 = time.perf_counter(), time.process_time()
    reads = _reads(folder)
    with rasterio.open(folder / "soc_stock.tif") as src:
        cells, overviews = src.width * src.height, src.overviews(1)
    result = {
        "cells": cells,
        "overview_factors": overviews,
        "regions": a.regions,
        "build_s": round(t1 - t0, 2),
        "report_s": round(t2 - t1, 2),
        "report_warm_s": round(t3 - t2, 2),
        # CPU seconds of this process: on a shared machine wall time also counts the
        # other processes' turns on the cores.
        "report_cpu_s": round(c2 - c1, 2),
        "report_warm_cpu_s": round(c3 - c2, 2),
        "target_s": 10.0,
        "reads": reads,
        "machine": {
            "cores": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "gdal": rasterio.__gdal_version__,
        },
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(result, indent=1))
    past = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*past, result], indent=1) + "\n")
    if not a.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
