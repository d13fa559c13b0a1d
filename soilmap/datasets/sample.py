"""The demo's sample: Southern Tigray (Ethiopia), assembled once from the registry.

:func:`sample_data_dir` fetches the ``tigray`` dataset (SoilGrids250m 2017 carbon and
bulk density at four depths, ESA CCI land cover 2010, the OCHA admin-2 polygon) and
Natural Earth's Ethiopia, and lays them out in the cache with the run configuration
``tigray.toml`` (soilmap's own, shipped in the package) and ``tigray_regions.gpkg``:
the Southern zone, and Ethiopia, which the rasters cover only in part.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd

from soilmap.datasets.fetch import cache_dir, fetch
from soilmap.datasets.registry import get_dataset

__all__ = ["SAMPLE_CONFIG", "sample_data_dir"]

#: Run configuration of the sample, inside the sample folder.
SAMPLE_CONFIG = "tigray.toml"
#: Files of the ``tigray`` dataset the run reads, copied beside its config.
RASTERS = (
    *(f"ORCDRC_sl{i}.tif" for i in range(1, 5)),
    *(f"BLDFIE_sl{i}.tif" for i in range(1, 5)),
    "LC_250m_ESACCI2010.tif",
)
#: Bump when the assembly below changes: the folder is rebuilt under a new name.
_LAYOUT = "1"


def _regions(tigray: dict[str, Path], world: dict[str, Path]) -> gpd.GeoDataFrame:
    # The admin-2 shapefile has no .prj: its coordinates are lon/lat WGS84, said here.
    zone = gpd.read_file(tigray["eth_tigray.shp"]).set_crs("EPSG:4326")
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
    countries = gpd.read_file(world["naturalearth_lowres_110m_admin0/naturalearth_lowres.shp"])
    eth = countries[countries["iso_a3"] == "ETH"]
    eth = gpd.GeoDataFrame(
        {
            "region_id": ["ETH"],
            "region_name": ["Ethiopia"],
            "level": ["admin0"],
            "source": ["Natural Earth 1:110m admin-0"],
        },
        geometry=eth.geometry.to_numpy(),
        crs=countries.crs,
    )
    return gpd.GeoDataFrame(
        pd.concat([zone, eth.to_crs("EPSG:4326")], ignore_index=True), crs="EPSG:4326"
    )


def sample_data_dir(*, progress: bool | None = None) -> Path:
    """Folder holding the sample data and its run configuration ``tigray.toml``.

    Downloads about 1 MB once (or reads ``SOILMAP_DATA``, see
    :mod:`soilmap.datasets.fetch`) and assembles the folder in the cache; later
    calls return it at once.

    Raises
    ------
    soilmap.errors.DatasetError
        The data cannot be had (offline without ``SOILMAP_DATA``, or a corrupted copy).
    """
    tigray = fetch("tigray", progress=progress)
    world = fetch("natural_earth_admin", progress=progress)
    config = resources.files("soilmap.datasets").joinpath(SAMPLE_CONFIG).read_bytes()
    # The folder's name follows from what it is made of: the files (verified against
    # these checksums by fetch), the config and this assembly.
    key = hashlib.sha256(_LAYOUT.encode() + config)
    for ds in (get_dataset("tigray"), get_dataset("natural_earth_admin")):
        key.update("".join(f.sha256 for f in ds.files).encode())
    folder = cache_dir() / "sample" / f"tigray-{key.hexdigest()[:12]}"
    if (folder / SAMPLE_CONFIG).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tigray-", dir=folder.parent))
    try:
        for name in RASTERS:
            shutil.copyfile(tigray[name], tmp / name)
        _regions(tigray, world).to_file(
            tmp / "tigray_regions.gpkg", layer="regions", driver="GPKG", engine="pyogrio"
        )
        (tmp / SAMPLE_CONFIG).write_bytes(config)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / SAMPLE_CONFIG).is_file():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
