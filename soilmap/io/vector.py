"""Vector input (regions) and table output (GeoPackage, CSV with .csvt)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from soilmap.errors import CRSError, InputError, InputNotFoundError

__all__ = ["RegionsReport", "read_regions", "write_csv", "write_gpkg"]

log = logging.getLogger(__name__)

InvalidPolicy = Literal["repair", "error"]


@dataclass(frozen=True)
class RegionsReport:
    """What :func:`read_regions` did to the regions, for ``run.json``."""

    path: str
    layer: str | None
    count: int
    source_crs: str
    crs_assumed: bool
    repaired: tuple[str, ...]
    empty: tuple[str, ...]


def _crs_label(crs) -> str:
    epsg = crs.to_epsg() if crs is not None else None
    return f"EPSG:{epsg}" if epsg else (crs.to_wkt() if crs is not None else "none")


def read_regions(
    path: str | os.PathLike,
    *,
    id_field: str,
    name_field: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    invalid: InvalidPolicy = "repair",
) -> tuple[gpd.GeoDataFrame, RegionsReport]:
    """Read region polygons for zonal statistics.

    Parameters
    ----------
    path : path-like
        Any vector file pyogrio reads (GeoPackage, shapefile, GeoJSON ...).
    id_field : str
        Field holding a unique region identifier.
    name_field : str, optional
        Field holding a region name (default: the id).
    layer : str, optional
        Layer to read in a multi-layer file (default: the first).
    crs : str, optional
        CRS to assume when the file has none (e.g. a shapefile without ``.prj``);
        an error is raised if the file has none and this is not given.
    invalid : {"repair", "error"}
        What to do with invalid geometries: repair them with ``shapely.make_valid``
        (reported in the returned report) or raise.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``region_id`` (str), ``region_name`` (str), ``geometry``.
    RegionsReport
        Source CRS, repaired and empty regions.

    Raises
    ------
    soilmap.errors.InputError
        Missing file or field, duplicate ids, no polygons, invalid geometries with
        ``invalid="error"``.
    soilmap.errors.CRSError
        The file has no CRS and ``crs`` is not given.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"regions file {str(p)!r} does not exist. Check the path.")
    try:
        gdf = gpd.read_file(p, layer=layer, engine="pyogrio")
    except (DataSourceError, DataLayerError, pyogrio.errors.FieldTypeError) as exc:
        raise InputError(f"regions file {str(p)!r} cannot be read ({exc}).") from exc
    fields = [c for c in gdf.columns if c != gdf.geometry.name]
    for label, field in (("--region-id", id_field), ("--region-name", name_field)):
        if field is not None and field not in gdf.columns:
            raise InputError(
                f"regions file {str(p)!r} has no field {field!r} ({label}). "
                f"Its fields are: {', '.join(fields)}."
            )
    if len(gdf) == 0:
        raise InputError(f"regions file {str(p)!r} holds no features.")
    assumed = False
    if gdf.crs is None:
        if crs is None:
            raise CRSError(
                f"regions file {str(p)!r} has no coordinate reference system (e.g. a shapefile "
                "without its .prj). Pass the CRS it is in (--regions-crs EPSG:4326, or "
                "crs = '...' under [regions] in the config file)."
            )
        gdf = gdf.set_crs(crs)
        assumed = True
    kinds = set(gdf.geometry.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(
            f"regions file {str(p)!r} holds {', '.join(sorted(kinds))} geometries; zonal "
            "statistics need polygons."
        )
    ids = gdf[id_field].astype(str)
    dupes = sorted(set(ids[ids.duplicated()]))
    if dupes:
        raise InputError(
            f"regions file {str(p)!r}: {id_field!r} is not unique ({', '.join(dupes[:10])} "
            "repeat). Choose a unique id field, or dissolve the regions first."
        )
    names = gdf[name_field].astype(str) if name_field else ids
    if name_field:
        names = names.where(gdf[name_field].notna(), ids)

    geoms = gdf.geometry.values
    empty_mask = np.asarray(gdf.geometry.isna() | gdf.geometry.is_empty)
    bad = ~empty_mask & ~np.asarray(shapely.is_valid(geoms))
    repaired = tuple(ids[bad])
    if bad.any():
        if invalid == "error":
            reasons = shapely.is_valid_reason(geoms[bad])
            raise InputError(
                f"regions file {str(p)!r}: invalid geometries in {', '.join(repaired[:10])} "
                f"({reasons[0]}). Repair them (QGIS 'Fix geometries') or use invalid='repair'."
            )
        fixed = shapely.make_valid(geoms[bad])
        # make_valid may return collections with lines or points: keep the area part.
        geoms = geoms.copy()
        geoms[bad] = [_polygonal(g) for g in fixed]
        log.warning("repaired %d invalid region geometries: %s", bad.sum(), ", ".join(repaired))
    out = gpd.GeoDataFrame(
        {"region_id": ids.to_numpy(), "region_name": names.to_numpy()},
        geometry=gpd.GeoSeries(geoms, crs=gdf.crs),
        crs=gdf.crs,
    )
    report = RegionsReport(
        path=str(p),
        layer=layer,
        count=len(out),
        source_crs=_crs_label(gdf.crs),
        crs_assumed=assumed,
        repaired=repaired,
        empty=tuple(ids[empty_mask]),
    )
    return out, report


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _csvt_type(series: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(series):
        return "Integer64"
    if pd.api.types.is_float_dtype(series):
        return "Real"
    return "String"


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> list[Path]:
    """Write ``df`` as CSV plus a ``.csvt`` so QGIS reads numbers as numbers.

    Returns the two paths written.  Geometry columns are dropped.
    """
    p = Path(path)
    table = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"]))
    table.to_csv(p, index=False, float_format="%.10g", lineterminator="\n")
    csvt = p.with_suffix(".csvt")
    csvt.write_text(",".join(f'"{_csvt_type(table[c])}"' for c in table.columns) + "\n")
    return [p, csvt]


def write_gpkg(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike,
    *,
    layer: str,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``gdf`` as a GeoPackage layer (a new file; append layers with further calls)."""
    p = Path(path)
    mode = "a" if p.exists() else "w"
    gdf.to_file(
        p, layer=layer, driver="GPKG", engine="pyogrio", mode=mode, metadata=metadata or None
    )
    return p
