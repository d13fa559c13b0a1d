"""Point sampling: the value of each raster at each point (soil profiles, plots).

:func:`sample_points` reads, for every point, the cell it falls in of each raster
(GDAL's own sampling, :meth:`rasterio.io.DatasetReader.sample`, after reprojecting
the points into each raster's CRS, never the raster), and the land-use group of the
cell when a land-cover raster and its class table are given.  A point outside a
raster or on its nodata gets NaN and says so in ``<name>_status`` (``"outside"``,
``"nodata"``, ``"ok"``); nothing is dropped.  :func:`sample_points_to_file` writes
the table atomically (GeoPackage, CSV + ``.csvt`` or Parquet).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
from rasterio.errors import RasterioError

from soilmap.errors import CRSError, InputError
from soilmap.io.blocks import read_env
from soilmap.io.paths import gdal_path
from soilmap.io.raster import read_layout
from soilmap.io.staging import OutputStage
from soilmap.io.vector import read_vector
from soilmap.landuse.codes import float_codes, is_float_codes
from soilmap.landuse.schemes import load_class_table
from soilmap.landuse.table import LUT_NODATA
from soilmap.outputs.tables import write_table
from soilmap.zonal.files import check_table_out, layer_names

__all__ = ["read_points", "sample_points", "sample_points_to_file"]

log = logging.getLogger("soilmap.zonal")

#: Column with each point's id (its ``id_field``, else its feature id).
POINT_ID = "point_id"


#: GDAL CSV open options: a table of coordinates (x/lon, y/lat columns) is read as
#: points, its other columns kept as text.
_CSV_POINTS = {
    "X_POSSIBLE_NAMES": "x,lon,long,lng,longitude,easting",
    "Y_POSSIBLE_NAMES": "y,lat,latitude,northing",
}


def _looks_like_degrees(xs: np.ndarray, ys: np.ndarray) -> bool:
    """Whether every coordinate fits longitude/latitude in degrees (lon up to 360)."""
    return bool(xs.size and (xs >= -180).all() and (xs <= 360).all() and (np.abs(ys) <= 90).all())


def _check_crs(gdf: gpd.GeoDataFrame, name: str, crs: str | None) -> gpd.GeoDataFrame:
    """``gdf`` with its CRS (its own, or ``crs``), checked against its coordinates.

    Coordinates that cannot be in the CRS (degrees in a projected CRS, metres in a
    geographic one) are refused: every point would be sampled at the wrong place,
    or silently reported outside.
    """
    geoms = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    xs, ys = geoms.x.to_numpy(), geoms.y.to_numpy()
    span = (
        f"x {xs.min():.6g} … {xs.max():.6g}, y {ys.min():.6g} … {ys.max():.6g}"
        if xs.size
        else "no coordinates"
    )
    degrees = _looks_like_degrees(xs, ys)
    given = None
    if crs is not None:
        try:
            given = pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError as exc:
            raise CRSError(
                f"--points-crs {crs!r} is not a coordinate reference system ({exc}). "
                "Give an EPSG code (e.g. EPSG:4326), a PROJ string or WKT."
            ) from exc
    assumed = gdf.crs is None
    if gdf.crs is None:
        if given is None:
            hint = (
                "they look like longitude/latitude in degrees: if they are, pass "
                "--points-crs EPSG:4326"
                if degrees
                else "they are not degrees: pass the projected CRS they are in "
                "(e.g. --points-crs EPSG:32637 for UTM zone 37N)"
            )
            raise CRSError(
                f"points file {name} has no coordinate reference system (e.g. a shapefile "
                f"without its .prj or a CSV of coordinates). Its coordinates ({span}): "
                f"{hint}."
            )
        gdf = gdf.set_crs(given)
    elif given is not None and not given.equals(gdf.crs, ignore_axis_order=True):
        raise CRSError(
            f"points file {name} states its own CRS ({_label(gdf.crs)}); --points-crs "
            f"{crs!r} is only for files without one. Drop --points-crs, or fix the file's "
            "CRS first (QGIS 'Assign projection', ogr2ogr -a_srs)."
        )
    source = "given with --points-crs" if assumed else "stated by the file"
    if gdf.crs.is_geographic and xs.size and not degrees:
        raise CRSError(
            f"points file {name}: its CRS ({_label(gdf.crs)}, {source}) is in degrees, "
            f"but its coordinates ({span}) are not longitude/latitude; they are probably "
            "metres of a projected CRS. Give the CRS the coordinates are in."
        )
    if gdf.crs.is_projected and degrees:
        raise CRSError(
            f"points file {name}: its CRS ({_label(gdf.crs)}, {source}) is projected, "
            f"but its coordinates ({span}) look like longitude/latitude in degrees. If "
            "they are, use EPSG:4326 (--points-crs EPSG:4326 for a file without a CRS)."
        )
    return gdf


def _label(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def read_points(
    path: str | os.PathLike,
    *,
    id_field: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read points (any vector format, local, URL or ``/vsi*``) with a ``point_id``.

    A CSV is read as points from its x/lon/longitude and y/lat/latitude columns.

    Raises
    ------
    soilmap.errors.InputError
        Missing or unreadable file, unknown ``id_field``, no features, non-point
        geometries.
    soilmap.errors.CRSError
        The file has no CRS and ``crs`` is not given (the message says whether the
        coordinates look like degrees); ``crs`` is not a CRS or contradicts the file's
        own; the coordinates cannot be in the CRS (degrees in a projected CRS, metres
        in a geographic one).
    """
    p = Path(path)
    name = repr(gdal_path(p))
    csv = gdal_path(p).lower().endswith(".csv")
    opts = _CSV_POINTS if csv else {}
    gdf = read_vector(p, "points file", name, layer=layer, fid_as_index=True, **opts)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.isna().all():
        raise InputError(
            f"points file {name} has no geometries"
            + (" (a CSV needs x/lon/longitude and y/lat/latitude columns)" if csv else "")
            + "; sampling needs points."
        )
    if len(gdf) == 0:
        raise InputError(f"points file {name} holds no features.")
    if id_field is not None and id_field not in gdf.columns:
        fields = [c for c in gdf.columns if c != gdf.geometry.name]
        raise InputError(
            f"points file {name} has no field {id_field!r} (--id). Its fields are: "
            f"{', '.join(fields)}."
        )
    kinds = set(gdf.geometry.geom_type.dropna())
    if not kinds <= {"Point"}:
        raise InputError(
            f"points file {name} holds {', '.join(sorted(kinds))} geometries; sampling needs "
            "points (use `soilmap zonal` for polygons)."
        )
    gdf = _check_crs(gdf, name, crs)
    ids = gdf[id_field] if id_field is not None else pd.Series(gdf.index, index=gdf.index)
    gdf.insert(0, POINT_ID, ids.astype(str).to_numpy())
    return gdf.reset_index(drop=True)


def _sample_one(path: Path, points: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    """Values (float64, NaN if none), statuses and the file's CRS-aware read of one raster."""
    layout = read_layout(path, what="raster")
    on = points.geometry.to_crs(layout.grid.crs_wkt)
    xs, ys = on.x.to_numpy(), on.y.to_numpy()
    cols, rows = ~layout.grid.transform @ (xs, ys)
    h, w = layout.grid.shape
    inside = np.isfinite(cols) & np.isfinite(rows)
    inside &= (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    values = np.full(len(points), np.nan)
    status = np.where(inside, "ok", "outside").astype(object)
    idx = np.flatnonzero(inside)
    if idx.size:
        # read_env: no decoding thread pool for a remote file (GDAL 3.10 zero-fills
        # the tiles of a failed request there: see soilmap.io.env).
        try:
            with read_env(gdal_path(path)), rasterio.open(gdal_path(path)) as src:
                got = np.ma.concatenate(
                    list(src.sample(zip(xs[idx], ys[idx], strict=True), indexes=1, masked=True))
                )
        except RasterioError as exc:
            raise InputError(
                f"{gdal_path(path)}: reading the points' cells failed ({exc}). A remote file "
                "whose server keeps failing: try again later, or raise GDAL_HTTP_MAX_RETRY; "
                "a local file is probably truncated or corrupted: re-download or re-export it."
            ) from exc
        raw = np.ma.getdata(got).astype("float64")
        missing = np.ma.getmaskarray(got) | ~np.isfinite(raw)
        values[idx] = np.where(missing, np.nan, raw)
        status[idx[missing]] = "nodata"
    return values, status, layout.dtype


def sample_points(
    rasters: Sequence[str | os.PathLike],
    points: gpd.GeoDataFrame,
    *,
    landcover: str | os.PathLike | None = None,
    landcover_scheme: str | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """The value of each raster at each point, and the land-use group of its cell.

    Parameters
    ----------
    rasters : sequence of path-like
        Single-band rasters, any grids and CRSs (local, URL or ``/vsi*``).
    points : geopandas.GeoDataFrame
        Points with a ``point_id`` column (see :func:`read_points`), any CRS.
    landcover : path-like, optional
        Land-cover class raster: adds ``landcover_code`` and ``landuse`` (the group of
        the code in ``landcover_scheme``; ``"unknown code"`` if the table lacks it).
    landcover_scheme : str, optional
        Class-table preset or table file (required with ``landcover``).

    Returns
    -------
    table : geopandas.GeoDataFrame
        ``point_id``, the points' own fields, one column per raster (its file stem,
        values as stored, NaN where none) with ``<stem>_status``, and the land use.
    units : dict of str to str
        Units of each value column, as the rasters state them (``"unknown"`` if not).
    """
    paths = [Path(p) for p in rasters]
    names = layer_names(paths)
    out = points.copy()
    units: dict[str, str] = {}
    for name, path in zip(names, paths, strict=True):
        values, status, _ = _sample_one(path, points)
        if len(points) and (status == "outside").all():
            # Said where the user sees it: a table of empty values has a cause.
            log.warning(
                "all %d points are outside %s (bounds %s in its CRS); check the points' "
                "CRS and the raster.",
                len(points),
                gdal_path(path),
                [round(b, 6) for b in read_layout(path).grid.bounds],
            )
        out[name] = values
        out[f"{name}_status"] = status
        units[name] = read_layout(path).units or "unknown"
    if landcover is not None:
        if not landcover_scheme:
            raise InputError("--landcover needs --landcover-scheme (see `soilmap schemes`).")
        table = load_class_table(landcover_scheme)
        lc = Path(landcover)
        codes, status, dtype = _sample_one(lc, points)
        what = f"land cover {gdal_path(lc)!r}"
        if is_float_codes(dtype):
            codes = float_codes(codes[None, :], None, what)[0]
        elif (nodata := read_layout(lc).nodata) is not None:
            codes = np.where(codes == nodata, np.nan, codes)
        ok = np.isfinite(codes)
        indexer = table.code_to_group_index("error")
        idx = np.full(len(codes), LUT_NODATA, dtype=np.int64)
        idx[ok] = indexer(codes[ok].astype(np.int64))
        groups = np.array(indexer.groups, dtype=object)
        landuse = np.where(idx >= 0, groups[np.clip(idx, 0, None)], "unknown code").astype(object)
        landuse[idx == LUT_NODATA] = None  # no land-cover data at the point
        out["landcover_code"] = pd.array(np.where(ok, codes, np.nan), dtype="Float64").astype(
            "Int64"
        )
        out["landuse"] = landuse
        out["landcover_status"] = np.where(ok, status, np.where(status == "ok", "nodata", status))
        units["landcover_code"] = f"class code ({table.name})"
    cols = [POINT_ID, *[c for c in out.columns if c not in (POINT_ID, out.geometry.name)]]
    return gpd.GeoDataFrame(out[[*cols, out.geometry.name]], crs=points.crs), units


def sample_points_to_file(
    rasters: Sequence[str | os.PathLike],
    points: str | os.PathLike,
    out: str | os.PathLike,
    *,
    id_field: str | None = None,
    points_layer: str | None = None,
    points_crs: str | None = None,
    landcover: str | os.PathLike | None = None,
    landcover_scheme: str | None = None,
    overwrite: bool = False,
) -> gpd.GeoDataFrame:
    """``soilmap sample``: :func:`sample_points` of a points file, written atomically.

    ``out`` is a ``.gpkg`` (layer ``samples``), ``.csv`` (+ ``.csvt``) or ``.parquet``.

    Raises
    ------
    soilmap.errors.InputError
        An unknown table suffix, or unusable inputs.
    soilmap.errors.OutputExistsError
        ``out`` exists and ``overwrite`` is False.
    """
    out = check_table_out(out, overwrite)
    pts = read_points(points, id_field=id_field, layer=points_layer, crs=points_crs)
    table, units = sample_points(
        rasters, pts, landcover=landcover, landcover_scheme=landcover_scheme
    )
    meta = {
        "software": "soilmap sample",
        "rasters": "; ".join(gdal_path(p) for p in rasters),
        "points": gdal_path(points),
    }
    extra = [".csvt"] if out.suffix.lower() == ".csv" else []
    stage = OutputStage(out.parent, [out.name, *(out.stem + s for s in extra)], overwrite=True)
    with stage:
        write_table(table, stage.path(out.name), layer="samples", metadata=meta, units=units)
        stage.commit()
    return table
