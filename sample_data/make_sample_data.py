"""Rebuild soilmap's bundled sample from the real public files it is clipped from.

Run from the repository root with the shared data folder beside it::

    python sample_data/make_sample_data.py [--shared ../shared/data]

It copies the SoilGrids250m (2017) Tigray clip unchanged, checks each file against
the checksums recorded in ``SHA256SUMS`` beside this script, and writes
``tigray_regions.gpkg``: the OCHA admin-2 polygon of the Southern zone of Tigray
(the shapefile has no .prj; its coordinates are lon/lat WGS84, so EPSG:4326 is
assigned here explicitly) and the Natural Earth 1:110m polygon of Ethiopia, which
the raster covers only in part (a region partly outside the raster).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd

HERE = Path(__file__).resolve().parent
TIGRAY = "soilgrids2017_clips/tigray_ethiopia"
RASTERS = (
    [f"ORCDRC_sl{i}.tif" for i in range(1, 5)]
    + [f"BLDFIE_sl{i}.tif" for i in range(1, 5)]
    + ["LC_250m_ESACCI2010.tif"]
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = parser.parse_args()
    src = args.shared / TIGRAY
    sums = dict(
        line.split()[::-1]
        for line in (HERE / "SHA256SUMS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    for name in RASTERS:
        shutil.copyfile(src / name, HERE / name)
        if sums.get(name) not in (None, sha256(HERE / name)):
            raise SystemExit(f"{name}: checksum differs from SHA256SUMS")

    zone = gpd.read_file(src / "eth_tigray.shp").set_crs("EPSG:4326")
    zone = gpd.GeoDataFrame(
        {
            "region_id": zone["admin2Pcod"],
            "region_name": zone["admin2Name"] + " zone, " + zone["admin1Name"],
            "level": "admin2",
            "source": "OCHA admin-2 (via SoilGrids clip)",
        },
        geometry=zone.geometry,
        crs="EPSG:4326",
    )
    world = gpd.read_file(
        args.shared / "natural_earth/naturalearth_lowres_110m_admin0/naturalearth_lowres.shp"
    )
    eth = world[world["iso_a3"] == "ETH"]
    eth = gpd.GeoDataFrame(
        {
            "region_id": ["ETH"],
            "region_name": ["Ethiopia"],
            "level": ["admin0"],
            "source": ["Natural Earth 1:110m admin-0"],
        },
        geometry=eth.geometry.to_numpy(),
        crs=world.crs,
    )
    regions = pd.concat([zone, eth.to_crs("EPSG:4326")], ignore_index=True)
    out = HERE / "tigray_regions.gpkg"
    out.unlink(missing_ok=True)
    regions.to_file(out, layer="regions", driver="GPKG", engine="pyogrio")
    print(f"wrote {len(RASTERS)} rasters and {out.name} ({len(regions)} regions)")


if __name__ == "__main__":
    main()
