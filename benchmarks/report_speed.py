"""Time ``write_report`` on a result folder of a large run (target: 1e8 cells under 10 s).

Builds a result folder like a run's: COGs (with overviews) of ``soc_stock``, ``landuse``
(paletted) and ``sequestration_rate`` on a ``side x side`` grid, the styles, a zonal
table of ``regions`` boxes (Parquet + GeoPackage with layer ``regions``) and run.json,
then times the report.  Usage::

    python benchmarks/report_speed.py [--side 10000] [--regions 200] [--keep DIR]

Results are appended to benchmarks/results/report_speed.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.shutil
import shapely
from rasterio.transform import from_origin

from soilmap.io.staging import OutputStage
from soilmap.outputs.qml import continuous_style, paletted_style, write_qml
from soilmap.outputs.write import write_tables
from soilmap.report import write_report

RESULTS = Path(__file__).with_name("results") / "report_speed.json"
CRS = "EPSG:32637"
CELL = 250.0


def _cog(path: Path, data: np.ndarray, nodata: float, units: str, resampling: str) -> None:
    side = data.shape[0]
    profile = dict(
        driver="GTiff",
        width=side,
        height=side,
        count=1,
        dtype=data.dtype.name,
        crs=CRS,
        transform=from_origin(500_000, 2_000_000, CELL, CELL),
        nodata=nodata,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="zstd",
        BIGTIFF="IF_SAFER",
    )
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
        dst.set_band_unit(1, units)
    rasterio.shutil.copy(
        tmp,
        path,
        driver="COG",
        COMPRESS="ZSTD",
        OVERVIEWS="AUTO",
        OVERVIEW_RESAMPLING=resampling,
        NUM_THREADS="ALL_CPUS",
        BIGTIFF="IF_SAFER",
    )
    tmp.unlink()


def build(folder: Path, side: int, n_regions: int) -> None:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:side, 0:side].astype("float32") / side
    stock = (40 + 60 * np.sin(3 * x) ** 2 + 40 * y + rng.normal(0, 5, (side, side))).astype(
        "float32"
    )
    del x, y
    _cog(folder / "soc_stock.tif", stock, -9999, "t C ha-1", "AVERAGE")
    write_qml(
        folder / "soc_stock.qml", continuous_style(45, 140, ramp="YlOrBr", label_unit="t C ha-1")
    )
    _cog(folder / "sequestration_rate.tif", stock * 0.004, -9999, "t C ha-1 yr-1", "AVERAGE")
    write_qml(
        folder / "sequestration_rate.qml", continuous_style(0.18, 0.56, label_unit="t C ha-1 yr-1")
    )
    landuse = (stock.astype("int32") % 4).astype("uint8")
    del stock
    _cog(folder / "landuse.tif", landuse, 255, "", "MODE")
    del landuse
    entries = [
        (0, "#d9d9d9", "excluded"),
        (1, "#f096ff", "cropland"),
        (2, "#ffff4c", "grassland"),
        (3, "#006400", "forest"),
    ]
    write_qml(folder / "landuse.qml", paletted_style(entries))
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=10_000)
    ap.add_argument("--regions", type=int, default=200)
    ap.add_argument("--keep")
    a = ap.parse_args()
    folder = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="soilmap-report-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    build(folder, a.side, a.regions)
    t1 = time.perf_counter()
    write_report(folder)
    t2 = time.perf_counter()
    result = {
        "cells": a.side * a.side,
        "regions": a.regions,
        "build_s": round(t1 - t0, 2),
        "report_s": round(t2 - t1, 2),
        "target_s": 10.0,
    }
    print(json.dumps(result))
    past = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*past, result], indent=1) + "\n")


if __name__ == "__main__":
    main()
