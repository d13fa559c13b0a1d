"""Read what the figures need from a result folder: overviews, regions, the zonal table."""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.enums import Resampling

from soilmap.errors import InputError

__all__ = ["Overview", "palette_of", "read_overview", "read_regions_layer", "read_zonal"]

#: Cells of a map image: about a 1000 x 1000 figure, whatever the raster's size.
MAP_CELLS = 1_000_000


@dataclass(frozen=True)
class Overview:
    """A raster band read at a reduced resolution.

    Attributes
    ----------
    values : numpy.ndarray
        2-D float64, NaN where the raster has no data.
    extent : (float, float, float, float)
        ``(left, right, bottom, top)`` in the raster's CRS (for ``imshow``).
    crs : rasterio.crs.CRS
        The raster's CRS.
    units : str
        The band's unit (``""`` if it has none).
    description : str
        The band's description.
    factor : int
        Decimation factor from the full raster (1 = full resolution).
    """

    values: np.ndarray
    extent: tuple[float, float, float, float]
    crs: rasterio.crs.CRS
    units: str
    description: str
    factor: int


def read_overview(
    path: str | os.PathLike, *, band: int = 1, max_cells: int = MAP_CELLS
) -> Overview:
    """Read ``band`` of ``path`` at the coarsest resolution with at most ``max_cells`` cells.

    GDAL serves a decimated read from the overview level closest to the requested
    size, so a billion-cell COG costs a read of its small overviews only.

    Raises
    ------
    soilmap.errors.InputError
        If the file cannot be opened.
    """
    p = Path(path)
    try:
        src = rasterio.open(p)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{p}: cannot open the raster ({exc}); was the run complete?") from exc
    with src:
        factor = max(1, math.ceil(math.sqrt(src.width * src.height / max_cells)))
        shape = (max(1, src.height // factor), max(1, src.width // factor))
        data = src.read(band, out_shape=shape, masked=True, resampling=Resampling.nearest)
        values = np.ma.filled(data.astype("float64"), np.nan)
        b = src.bounds
        return Overview(
            values=values,
            extent=(b.left, b.right, b.bottom, b.top),
            crs=src.crs,
            units=src.units[band - 1] or "",
            description=src.descriptions[band - 1] or "",
            factor=factor,
        )


def palette_of(path: str | os.PathLike) -> list[tuple[int, str, str]]:
    """The ``(code, colour, label)`` classes of a paletted raster, from its ``.qml``."""
    qml = Path(path).with_suffix(".qml")
    if not qml.exists():
        raise InputError(f"{qml}: the style of {Path(path).name} is missing; rerun soilmap.")
    root = ET.parse(qml).getroot()
    return [
        (int(e.get("value", "0")), e.get("color", "#888888"), e.get("label", ""))
        for e in root.iter("paletteEntry")
    ]


def read_zonal(folder: str | os.PathLike, stem: str = "zonal_stats") -> pd.DataFrame:
    """The zonal table of a result folder (Parquet, else CSV), without geometry."""
    d = Path(folder)
    if (d / f"{stem}.parquet").exists():
        table = pd.read_parquet(d / f"{stem}.parquet")
        return pd.DataFrame(table.drop(columns=[c for c in ("geometry",) if c in table]))
    if (d / f"{stem}.csv").exists():
        return pd.read_csv(d / f"{stem}.csv")
    raise InputError(f"{d}: no {stem}.parquet or {stem}.csv; is this a soilmap output folder?")


def read_regions_layer(folder: str | os.PathLike, stem: str = "zonal_stats") -> gpd.GeoDataFrame:
    """One polygon per region: layer ``regions`` of ``<stem>.gpkg`` (or its first rows)."""
    path = Path(folder) / f"{stem}.gpkg"
    if not path.exists():
        raise InputError(f"{path} is missing; is this a soilmap output folder?")
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(path)}
    if "regions" in layers:
        return gpd.read_file(path, layer="regions", engine="pyogrio")
    table = gpd.read_file(path, layer=stem, engine="pyogrio")
    return table.drop_duplicates("region_id").reset_index(drop=True)
