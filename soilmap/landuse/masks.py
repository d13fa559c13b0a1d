"""Exclusion masks (protected areas, peat, urban) as shares of reference cells.

A mask is a float32 layer, dims ``("y", "x")``, holding the share (0–1) of each
reference cell's area that is excluded.  Vector masks use exact polygon coverage
(exactextract); raster masks on any grid use the machinery of
:func:`soilmap.landuse.regrid.class_fractions`.  :func:`apply_exclusion` moves the excluded
share of every land-use group into the ``"excluded"`` group, keeping the sum of the
fractions (the covered share) unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from pyproj import CRS

from soilmap.errors import (
    CRSError,
    GridMismatchError,
    InputError,
    NoOverlapError,
)
from soilmap.grid import Grid, check_chunks
from soilmap.io.paths import gdal_path
from soilmap.io.raster import read_layout
from soilmap.io.vector import read_vector
from soilmap.landuse.regrid import _check_integer, _split, fraction_array
from soilmap.landuse.table import LUT_NODATA, GroupIndexer
from soilmap.meta import append_history

__all__ = ["EXCLUDED", "apply_exclusion", "raster_mask_fraction", "vector_mask_fraction"]

#: Group that receives excluded land.
EXCLUDED = "excluded"

#: Default reference cells per chunk of a vector mask.
DEFAULT_MASK_CHUNKS = (1024, 1024)


def vector_mask_fraction(
    mask_polygons: gpd.GeoDataFrame | str | os.PathLike,
    reference: Grid,
    *,
    chunks: tuple[int, int] | None = None,
    layer: str | int | None = None,
    crs: str | int | CRS | None = None,
) -> xr.DataArray:
    """Share of each reference cell covered by the union of polygons, lazily.

    Coverage is exact (exactextract coverage fractions of the polygons, reprojected
    to the reference CRS): a polygon covering half a cell gives 0.5, and
    overlapping polygons count once (they are merged chunk by chunk).  Shares are
    planar in the reference CRS (for a lon/lat grid the area varies by ~1e-4 across
    a 1 km cell).

    Parameters
    ----------
    mask_polygons : geopandas.GeoDataFrame or path-like
        Polygons of excluded land, or any vector file pyogrio reads.
    reference : Grid
        North-up grid of the result.
    chunks : tuple of int, optional
        ``(rows, cols)`` per dask chunk (default :data:`DEFAULT_MASK_CHUNKS`).
    layer : str or int, optional
        Layer of a multi-layer file.
    crs : str, int or pyproj.CRS, optional
        CRS of polygons that carry none (e.g. a shapefile without ``.prj``).

    Returns
    -------
    xarray.DataArray
        Dims ``("y", "x")``, float32 in [0, 1], units ``"1"``, CRS written.

    Raises
    ------
    soilmap.errors.InputError
        Missing or unreadable file, no polygons, no CRS
        (:class:`~soilmap.errors.CRSError`), no overlap
        (:class:`~soilmap.errors.NoOverlapError`), rotated reference grid.
    """
    gdf, name = _read_polygons(mask_polygons, layer=layer, crs=crs)
    if not reference.is_north_up():
        raise InputError(
            f"vector masks need a north-up reference grid; {reference.describe()} is rotated."
        )
    geoms = np.asarray(gdf.to_crs(reference.crs_wkt).geometry.values, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    bad = ~shapely.is_valid(geoms)
    geoms[bad] = shapely.make_valid(geoms[bad])
    # Only areas exclude: repaired collections may hold lines or points.
    geoms = shapely.get_parts(geoms)
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]  # Polygon, MultiPolygon
    frame = shapely.box(*reference.bounds)
    if not shapely.intersects(geoms, frame).any():
        box_ll = gpd.GeoSeries([frame], crs=reference.crs_wkt).to_crs(4326).total_bounds
        mb = gdf.to_crs(4326).total_bounds
        raise NoOverlapError(
            f"mask {name} does not overlap the reference grid: the polygons span lon "
            f"{mb[0]:.4f}…{mb[2]:.4f}, lat {mb[1]:.4f}…{mb[3]:.4f}; the grid "
            f"({reference.describe()}) spans lon {box_ll[0]:.4f}…{box_ll[2]:.4f}, lat "
            f"{box_ll[1]:.4f}…{box_ll[3]:.4f}. Check the file and its CRS (crs= for files "
            "without one)."
        )
    rows, cols = check_chunks(chunks or DEFAULT_MASK_CHUNKS)
    ych, xch = _split(reference.height, rows), _split(reference.width, cols)
    tree = shapely.STRtree(geoms)
    token = tokenize(shapely.to_wkb(geoms).tolist(), reference, ych, xch)
    key = f"vector-mask-{token}"
    dsk: dict = {}
    y_edges, x_edges = np.cumsum((0, *ych)), np.cumsum((0, *xch))
    for i in range(len(ych)):
        for j in range(len(xch)):
            r0, r1, c0, c1 = (int(v) for v in (*y_edges[i : i + 2], *x_edges[j : j + 2]))
            bounds = reference.window_bounds(r0, r1, c0, c1)
            hit = tree.query(shapely.box(*bounds), predicate="intersects")
            # Only the part inside the chunk matters: clipping keeps the graph small
            # when one large polygon spans many chunks.
            parts = shapely.clip_by_rect(geoms[np.sort(hit)], *bounds) if hit.size else []
            wkbs = tuple(shapely.to_wkb(parts).tolist()) if len(parts) else ()
            dsk[(key, i, j)] = (
                _coverage_block,
                wkbs,
                bounds,
                (r1 - r0, c1 - c0),
                reference.crs_wkt,
            )
    graph = HighLevelGraph.from_collections(key, dsk, dependencies=())
    data = dsa.Array(
        graph, key, chunks=(ych, xch), dtype="float32", meta=np.empty((0, 0), "float32")
    )
    out = _layer(data, reference, name, "excluded share of cell (vector mask)")
    return append_history(out, f"vector_mask_fraction({name}, grid={reference.describe()})")


def raster_mask_fraction(
    path: str | os.PathLike,
    reference: Grid,
    *,
    chunks: tuple[int, int] | None = None,
    values: Sequence[int] | None = None,
    band: int = 1,
) -> xr.DataArray:
    """Share of each reference cell where a mask raster on any grid marks exclusion.

    A pixel is excluded when it is nonzero (``values=None``) or holds one of
    ``values``; the file's nodata pixels never are.  Shares are area-weighted like
    :func:`soilmap.landuse.regrid.class_fractions` (exact in the same CRS, supersampled
    otherwise).

    Parameters
    ----------
    path : path-like
        Integer mask raster, any grid and CRS.
    reference : Grid
        Grid of the result.
    chunks : tuple of int, optional
        ``(rows, cols)`` per dask chunk (default: bounded source windows).
    values : sequence of int, optional
        Codes meaning "excluded" (default: every nonzero code).
    band : int
        1-based band.

    Returns
    -------
    xarray.DataArray
        Dims ``("y", "x")``, float32 in [0, 1], units ``"1"``, CRS written.
    """
    layout = read_layout(path, band=band, what="mask raster")
    _check_integer(layout, "mask raster")
    if values is None:
        # Code 0 is kept, every other code (negative ones too: outside the lut) excluded.
        lut, fill = np.array([1], dtype=np.int16), 0
        excluded = set()
    else:
        excluded = {int(v) for v in values}
        if not excluded or min(excluded) < 0:
            raise InputError(f"values must be non-negative mask codes, not {list(values)!r}.")
        lut = np.ones(max(excluded) + 1, dtype=np.int16)
        lut[sorted(excluded)] = 0
        fill = 1
    nodata = layout.nodata
    if np.dtype(layout.dtype).kind == "f":
        nodata = None  # float codes: nodata becomes NaN when each window is read
    if nodata is not None and (not float(nodata).is_integer() or int(nodata) in excluded):
        nodata = None
    if nodata is not None and 0 <= int(nodata) < len(lut):
        lut[int(nodata)] = LUT_NODATA
    indexer = GroupIndexer(lut=lut, groups=(EXCLUDED, "kept"), fill=fill)
    data, plan = fraction_array(
        layout,
        indexer,
        reference,
        band=band,
        chunks=chunks,
        method="area",
        nodata=None if nodata is None else int(nodata),
        what=f"mask raster {str(layout.path)!r}",
        table_desc="",
        fix="",
    )
    out = _layer(data[0], reference, str(layout.path), "excluded share of cell (raster mask)")
    out.attrs["method"] = plan.kernel
    shown = "nonzero" if values is None else sorted(excluded)
    return append_history(
        out, f"raster_mask_fraction({str(layout.path)!r}, values={shown}, method={plan.kernel!r})"
    )


def apply_exclusion(
    fractions: xr.DataArray, excluded_share: xr.DataArray, *, group: str = EXCLUDED
) -> xr.DataArray:
    """Move the excluded share of every other group into ``group``, lazily.

    ``new_g = f_g × (1 − m)`` for ``g ≠ group`` and
    ``new_group = f_group + m × Σ_{g ≠ group} f_g``, where ``m`` is the excluded
    share (clipped to [0, 1], NaN as 0).  The sum over groups is unchanged (to
    float32 rounding).  ``group`` is added first (where class tables put it) if
    missing.

    Parameters
    ----------
    fractions : xarray.DataArray
        Dims ``("group", "y", "x")`` (see :func:`soilmap.landuse.regrid.class_fractions`).
    excluded_share : xarray.DataArray
        Dims ``("y", "x")`` on the same grid (e.g. :func:`vector_mask_fraction`).
    group : str
        Group receiving excluded land.

    Raises
    ------
    soilmap.errors.GridMismatchError
        If the two layers are not on the same grid.
    """
    share = excluded_share.transpose("y", "x")
    if fractions.sizes["y"] != share.sizes["y"] or fractions.sizes["x"] != share.sizes["x"]:
        raise GridMismatchError(
            f"the exclusion mask is {share.sizes['y']}x{share.sizes['x']} cells but the "
            f"land-use fractions are {fractions.sizes['y']}x{fractions.sizes['x']}. Build the "
            "mask on the same reference grid (reference=...)."
        )
    for dim in ("y", "x"):
        if dim in share.coords and dim in fractions.coords:
            a, b = np.asarray(share[dim]), np.asarray(fractions[dim])
            step = abs(b[1] - b[0]) if b.size > 1 else 1.0
            if not np.allclose(a, b, rtol=0, atol=1e-6 * step):
                raise GridMismatchError(
                    f"the exclusion mask and the land-use fractions have different {dim} "
                    "coordinates. Build the mask on the same reference grid (reference=...)."
                )
    # Same grid checked: drop the mask's coords so float noise cannot misalign.
    m = xr.DataArray(share.data, dims=("y", "x")).fillna(0).clip(0, 1).astype("float64")
    frac = fractions
    if group not in frac["group"].values:
        zero = xr.zeros_like(frac.isel(group=[0])).assign_coords(group=[group])
        frac = xr.concat([zero, frac], dim="group")
    is_target = frac["group"] == group
    f64 = frac.astype("float64")
    others = f64.where(~is_target, 0.0).sum("group")
    moved = xr.where(is_target, f64 + m * others, f64 * (1 - m))
    out = moved.astype("float32").transpose("group", "y", "x")
    out = out.assign_coords(frac.coords)
    out.attrs = dict(fractions.attrs)
    return append_history(out, f"apply_exclusion(group={group!r})")


# --------------------------------------------------------------------------- helpers


def _read_polygons(
    source: gpd.GeoDataFrame | str | os.PathLike, *, layer, crs
) -> tuple[gpd.GeoDataFrame, str]:
    if isinstance(source, gpd.GeoDataFrame):
        gdf, name = source, "GeoDataFrame"
    else:
        path = Path(source)
        name = repr(gdal_path(path))
        gdf = read_vector(
            path,
            "mask file",
            name,
            layer=layer,
            fix="Check that it opens in QGIS, re-export it if it is truncated or corrupted, "
            "or leave it out of --exclude.",
        )
    if len(gdf) == 0:
        raise InputError(f"mask {name} holds no features.")
    if gdf.crs is None:
        if crs is None:
            raise CRSError(
                f"mask {name} has no coordinate reference system (e.g. a shapefile without "
                "its .prj). Pass the CRS it is in: vector_mask_fraction(..., crs='EPSG:4326')."
            )
        gdf = gdf.set_crs(crs)
    elif crs is not None and not CRS.from_user_input(crs).equals(gdf.crs):
        raise CRSError(
            f"mask {name} declares {gdf.crs.to_string()} but crs={crs!r} was passed. Drop "
            "crs= (it is only for files without a CRS) or fix the file's CRS."
        )
    kinds = set(gdf.geometry.geom_type.dropna())
    if not kinds & {"Polygon", "MultiPolygon", "GeometryCollection"}:
        raise InputError(
            f"mask {name} holds {', '.join(sorted(kinds)) or 'no'} geometries; exclusion "
            "masks need polygons."
        )
    return gdf, name


def _coverage_block(
    wkbs: tuple[bytes, ...], bounds: tuple[float, ...], shape: tuple[int, int], crs_wkt: str
) -> np.ndarray:
    out = np.zeros(shape, dtype="float32")
    if not wkbs:
        return out
    # Overlapping polygons must count once: cover their union.
    geom = shapely.union_all(shapely.from_wkb(list(wkbs)))
    if geom.is_empty or geom.area == 0:
        return out
    src = NumPyRasterSource(np.zeros(shape, dtype="uint8"), *bounds, srs_wkt=crs_wkt)
    cov = exact_extract(
        src,
        gpd.GeoDataFrame(geometry=[geom], crs=crs_wkt),
        ["cell_id", "coverage"],
        output="pandas",
    )
    cells = np.asarray(cov["cell_id"].iloc[0], dtype=np.int64)
    out.ravel()[cells] = np.asarray(cov["coverage"].iloc[0], dtype="float32")
    return np.clip(out, 0.0, 1.0, out=out)


def _layer(data: dsa.Array, reference: Grid, source: str, long_name: str) -> xr.DataArray:
    out = xr.DataArray(data, dims=("y", "x"), coords={"y": reference.ys(), "x": reference.xs()})
    out = out.rio.write_crs(reference.crs_wkt).rio.write_transform(reference.transform)
    out.attrs = {"units": "1", "long_name": long_name, "source": source, "history": ""}
    return out


def exclusion_share(
    vectors: Sequence[str | os.PathLike],
    rasters: Sequence[str | os.PathLike],
    grid: Grid,
    *,
    chunks: tuple[int, int] | None = None,
) -> xr.DataArray | None:
    """The share of each cell under any exclusion mask, lazily; None without masks.

    The polygons of every vector file are unioned first (overlaps between files
    count once); raster masks (non-zero cells, any grid) are combined with them as
    independent shares: the kept share is the product of each mask's kept share.
    """
    shares = []
    if vectors:
        polygons = pd.concat(
            # Through the checked reader: a missing or corrupt file is an InputError.
            [_read_polygons(q, layer=None, crs=None)[0].to_crs(grid.crs_wkt) for q in vectors],
            ignore_index=True,
        )
        shares.append(
            vector_mask_fraction(gpd.GeoDataFrame(polygons, crs=grid.crs_wkt), grid, chunks=chunks)
        )
    shares += [raster_mask_fraction(q, grid, chunks=chunks) for q in rasters]
    if not shares:
        return None
    kept = shares[0] * 0 + 1
    for share in shares:
        kept = kept * (1 - share)
    return 1 - kept
