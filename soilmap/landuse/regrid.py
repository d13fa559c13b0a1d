"""Land cover from any grid onto the reference grid, as per-group area fractions.

:func:`class_fractions` turns a class raster on any grid into dims
``("group", "y", "x")``: the share (0–1) of each reference cell's area in each
land-use group.  Their sum over groups is the cell's *covered share*, the part of
its area whose land cover is known (inside the source extent, not nodata).

Nothing is read when the graph is built.  Each dask task opens the source file by
path, reads only the window under its reference cells, and works through that
window in sub-blocks of at most :data:`MAX_WINDOW_PIXELS` source pixels, so memory
is bounded by chunk size, never by raster size, and the graph pickles to
distributed workers.

Three kernels, chosen once per call (recorded in ``attrs["method"]``):

``area-exact``
    Same CRS, reference axes parallel to the source's (any resolutions, any
    offset, finer or coarser source).  The area of a cell over a source pixel is
    an x-overlap times a y-overlap, so fractions are ``Σ wy · wx · one-hot``: a
    bincount over each window row strip (whole columns counted, the few columns
    cut by a cell edge corrected), then a weighted sum of rows.  Exact to float64
    rounding; an aligned integer factor (10 m → 30 m) gives exactly the mean of
    the k × k pixels.  For a lon/lat CRS ``wy`` is the ellipsoidal area of the
    latitude band, so fractions are true-area shares (pixels nearer the pole
    weigh less).
``area-sampled``
    Other CRSs, or a rotated reference.  Each cell is split into ``ky × kx``
    equal sub-cells (``attrs["samples"]``) whose centres take the class of the
    source pixel under them: ``k = 2 ×`` the cell size in source pixels (spacing
    ≤ half a pixel), at least :data:`MIN_SAMPLES`, at most :data:`MAX_SAMPLES`.
    Positions are exact (pyproj) at cell corners and bilinear inside a cell,
    which is split into ``m × m`` parts if the projection bends by more than
    :data:`INTERP_TOL_PX` source pixels across it (checked on sample cells).
    **Error bound:** a sub-cell cut by a class boundary gives all its area to the
    side of its centre, at most half of it wrongly, and a straight segment
    crosses at most ``kx + ky − 1`` sub-cells; so every straight source-pixel edge
    crossing a cell moves a fraction by less than ``1 / min(kx, ky)`` (≤ 1/16),
    at most ``1 / (2k)`` for edges parallel to the cell's sides.  Cells lying in
    one class are exact (they are recognised and skipped when ``k ≥ 32``), the
    covered share of a cell cut by the source extent has the same bound, and the
    fractions always sum to the sampled covered share.  On the WorldCover tile
    onto a 1 km UTM grid the tile-wide group areas agree with a histogram to 3e-6.
``nearest``
    Only when asked for: the class of the source pixel under each cell centre,
    one-hot (0/1).

Shares are planar in the reference CRS except for lon/lat references (rows
weighted by band area); in conformal CRSs (UTM) the area scale varies by ~1e-7
across a 1 km cell.  Results do not depend on the chunking.

This module plans the work (kernel, sub-blocks, dask graph); the kernels and the
dask task that runs them are in :mod:`soilmap.landuse._kernels`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from pyproj import CRS, Transformer

from soilmap.errors import CRSError, InputError, NoOverlapError
from soilmap.grid import Grid, check_chunks
from soilmap.io.paths import gdal_path
from soilmap.io.raster import RasterLayout, open_categorical, read_layout
from soilmap.landuse._kernels import (
    _UNKNOWN_BIN,
    _apply,
    _chunk,
    _Plan,
    _to_source_px,
    _transformer,
)
from soilmap.landuse.codes import is_float_codes
from soilmap.landuse.fractions import fractions_from_index, group_index_from_classes
from soilmap.landuse.table import ClassTable, GroupIndexer
from soilmap.meta import append_history

__all__ = [
    "MAX_WINDOW_PIXELS",
    "class_fractions",
    "class_fractions_and_index",
    "covered_share",
]

#: Most source pixels one sub-block reads (16 Mpx: 16 MB of uint8 codes, ~100 MB of
#: temporaries); a 10 m source onto a 1 km grid gives ~40 × 40 cells per sub-block.
MAX_WINDOW_PIXELS = 4096 * 4096
#: Most reference cells per sub-block (bounds output and per-cell temporaries).
MAX_CELLS = 1024 * 1024
#: Fewest / most sub-points per cell side in the sampled kernel.
MIN_SAMPLES = 16
MAX_SAMPLES = 1024
#: Largest error (source pixels) of the bilinear map inside a cell before it is split.
INTERP_TOL_PX = 0.05
_Method = Literal["area", "nearest"]


def class_fractions(
    path: str | os.PathLike,
    table: ClassTable,
    reference: Grid,
    *,
    chunks: tuple[int, int] | None = None,
    unknown: Literal["error", "excluded"] = "error",
    method: _Method = "area",
    band: int = 1,
) -> xr.DataArray:
    """Per-group area fractions of a land-cover raster on ``reference``, lazily.

    Parameters
    ----------
    path : path-like
        Integer class raster on any grid and CRS.
    table : ClassTable
        Source code → land-use group table.
    reference : Grid
        Grid of the result (the SOC grid).
    chunks : tuple of int, optional
        ``(rows, cols)`` reference cells per dask chunk.  Default: as many as keep a
        chunk's source window under :data:`MAX_WINDOW_PIXELS`.  Larger chunks (e.g.
        the SOC chunks) are fine: each task then works through its chunk in
        sub-blocks, so memory stays bounded, only parallelism is coarser.
    unknown : {"error", "excluded"}
        Codes missing from ``table``: raise :class:`~soilmap.errors.UnknownClassError`
        when a block holding them is computed, or count them as ``"excluded"``.
    method : {"area", "nearest"}
        Area-weighted fractions (default), or the one-hot class of the source pixel
        under each cell centre.
    band : int
        1-based band of ``path``.

    Returns
    -------
    xarray.DataArray
        Dims ``("group", "y", "x")``, float32, fractions of cell area (units ``"1"``),
        groups in ``table.code_to_group_index(unknown).groups`` order, CRS written;
        attrs ``source``, ``class_table``, ``method`` (``"same-grid"``,
        ``"area-exact"``, ``"area-sampled"`` or ``"nearest"``), ``samples``
        (``"kyxkx"``, sampled kernel only) and ``history``.

    Raises
    ------
    soilmap.errors.InputError
        Missing or unreadable file, no CRS (:class:`~soilmap.errors.CRSError`),
        non-integer values, no overlap with ``reference``
        (:class:`~soilmap.errors.NoOverlapError`).  Unknown codes raise
        :class:`~soilmap.errors.UnknownClassError` at compute time.

    Notes
    -----
    The file's nodata value is no data (not an unknown class) unless the table lists
    it as a class.  See the module notes for the kernels and their error bounds.

    Examples
    --------
    >>> from soilmap.landuse.schemes import load_class_table
    >>> from soilmap.testing import make_grid, write_raster
    >>> import numpy as np, tempfile, pathlib
    >>> src = make_grid((3, 3), res=10.0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "lc.tif"
    >>> codes = np.array([[40, 40, 10]] * 3, dtype="uint8")  # 2/3 cropland, 1/3 tree cover
    >>> _ = write_raster(path, codes, src, nodata=0)
    >>> frac = class_fractions(
    ...     path, load_class_table("esa_worldcover"), make_grid((1, 1), res=30.0)
    ... )
    >>> frac.sel(group=["cropland", "forest"]).values.ravel().round(4)
    array([0.6667, 0.3333], dtype=float32)
    """
    return class_fractions_and_index(
        path, table, reference, chunks=chunks, unknown=unknown, method=method, band=band
    )[0]


def class_fractions_and_index(
    path: str | os.PathLike,
    table: ClassTable,
    reference: Grid,
    *,
    chunks: tuple[int, int] | None = None,
    unknown: Literal["error", "excluded"] = "error",
    method: _Method = "area",
    band: int = 1,
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """:func:`class_fractions`, and the group index when the raster is on ``reference``.

    Parameters are those of :func:`class_fractions`.

    Returns
    -------
    fractions : xarray.DataArray
        As :func:`class_fractions`.
    index : xarray.DataArray or None
        When the land cover is on the reference grid, the fractions are 0/1 and this
        is each cell's group (see :func:`soilmap.landuse.fractions.group_index_from_classes`),
        built from the same reads; None on any other grid.
    """
    if method not in ("area", "nearest"):
        raise InputError(f"method must be 'area' or 'nearest', not {method!r}.")
    layout = read_layout(path, band=band, what="land cover")
    _check_integer(layout, "land cover")
    indexer = table.code_to_group_index(unknown)
    if layout.grid.matches(reference):
        classes = open_categorical(layout.path, band=band, chunks=chunks)
        index = group_index_from_classes(classes, table, reference=reference, unknown=unknown)
        out = fractions_from_index(index)
        out.attrs["method"] = "same-grid"
        return out, index
    nodata = layout.nodata
    if is_float_codes(layout.dtype):
        nodata = None  # float codes: nodata becomes NaN when each window is read
    elif nodata is not None and (not float(nodata).is_integer() or int(nodata) in table.codes):
        nodata = None  # a code the table lists is a class, whatever the file says
    fix = (
        "Add them to a table file (--landcover-scheme my_table.csv; start from `soilmap "
        "schemes NAME`) or count them as excluded (unknown='excluded'; unknown = 'excluded' "
        "under [landcover], or --unknown-classes excluded)."
    )
    data, plan = fraction_array(
        layout,
        indexer,
        reference,
        chunks=chunks,
        method=method,
        nodata=None if nodata is None else int(nodata),
        what=f"land cover {str(layout.path)!r}",
        table_desc=table.describe(),
        fix=fix,
    )
    out = _wrap(data, indexer.groups, reference)
    out.attrs = {
        "units": "1",
        "long_name": "land-use group area fraction",
        "source": str(layout.path),
        "class_table": table.name,
        "method": plan.kernel,
        "history": "",
    }
    if plan.kernel == "area-sampled":
        out.attrs["samples"] = "{}x{}".format(*plan.samples)
    out = append_history(
        out,
        f"class_fractions({str(layout.path)!r}, table={table.name!r}, unknown={unknown!r}, "
        f"method={plan.kernel!r}, grid={reference.describe()})",
    )
    return out, None


def covered_share(fractions: xr.DataArray) -> xr.DataArray:
    """Share (0–1) of each cell whose land cover is known: the sum over groups."""
    out = fractions.sum("group", dtype="float32")
    out.attrs = {
        "units": "1",
        "long_name": "share of cell area with known land cover",
        "history": fractions.attrs.get("history", ""),
    }
    return append_history(out, "covered_share()")


# --------------------------------------------------------------------------- plan


def fraction_array(
    layout: RasterLayout,
    indexer: GroupIndexer,
    reference: Grid,
    *,
    band: int = 1,
    chunks: tuple[int, int] | None,
    method: _Method,
    nodata: int | None,
    what: str,
    table_desc: str,
    fix: str,
) -> tuple[dsa.Array, _Plan]:
    """Lazy ``(group, y, x)`` fractions of a raster for any :class:`GroupIndexer`.

    The engine behind :func:`class_fractions` and
    :func:`soilmap.landuse.masks.raster_mask_fraction`.  Checks the overlap (no pixels
    read); returns the dask array and its plan.
    """
    if len(indexer.groups) >= _UNKNOWN_BIN:
        raise InputError(f"at most {_UNKNOWN_BIN - 1} groups fit; got {len(indexer.groups)}.")
    src = layout.grid
    same_crs = src.crs.equals(reference.crs, ignore_axis_order=True)
    _check_overlap(src, reference, same_crs, what)
    axis_aligned = reference.transform.b == 0 and reference.transform.d == 0
    if method == "nearest":
        kernel = "nearest"
    else:
        kernel = "area-exact" if _can_be_exact(src, reference, same_crs) else "area-sampled"
    step, bbox, err = _survey(src, reference, same_crs)
    lattice = 1
    if kernel == "area-sampled":
        # Bilinear error shrinks with the square of the cell size.
        lattice = min(16, max(1, math.ceil(math.sqrt(err / INTERP_TOL_PX))))
    ky, kx = (_samples(e, lattice) for e in step)
    side = max(1, int(math.sqrt(MAX_WINDOW_PIXELS / max(bbox[0] * bbox[1], 1e-12))))
    side = min(side, int(math.sqrt(MAX_CELLS)))
    sub = (min(side, reference.height), min(side, reference.width))
    rows, cols = sub if chunks is None else check_chunks(chunks)
    ellipsoid = None
    if reference.crs.is_geographic and axis_aligned:
        ell = reference.crs.ellipsoid
        if ell is None:
            raise CRSError(
                f"the CRS {reference.crs.name!r} has no ellipsoid, so ground areas are undefined."
            )
        unit = reference.crs.axis_info[0].unit_conversion_factor
        ellipsoid = (ell.semi_major_metre, ell.semi_minor_metre, unit)
    plan = _Plan(
        path=gdal_path(layout.path),
        band=band,
        source=src,
        reference=reference,
        indexer=indexer,
        nodata=nodata,
        kernel=kernel,
        same_crs=same_crs,
        ellipsoid=ellipsoid,
        samples=(ky, kx),
        lattice=lattice,
        sub_block=sub,
        what=what,
        table_desc=table_desc,
        fix=fix,
    )
    return _graph(plan, layout.path, rows, cols), plan


def _can_be_exact(src: Grid, reference: Grid, same_crs: bool) -> bool:
    # Separable overlaps need both grids' axes parallel (sources are always north-up).
    return same_crs and reference.transform.b == 0 and reference.transform.d == 0


def _samples(step_px: float, lattice: int) -> int:
    k = min(MAX_SAMPLES, max(MIN_SAMPLES, math.ceil(2.0 * step_px)))
    return math.ceil(k / lattice) * lattice  # whole sub-points per lattice part


def _check_integer(layout: RasterLayout, what: str) -> None:
    # Float codes are checked block by block (soilmap.landuse.codes).
    if np.dtype(layout.dtype).kind not in "iuf":
        raise InputError(
            f"{what} {str(layout.path)!r} holds {layout.dtype} values, not integer class codes. "
            "Pass the class raster itself (one integer code per cell), or convert it "
            f"(gdal_translate -ot Int16 {layout.path} codes.tif)."
        )


def _split(n: int, size: int) -> tuple[int, ...]:
    size = min(size, n)
    return (size,) * (n // size) + ((n % size,) if n % size else ())


def _graph(plan: _Plan, path: Path, rows: int, cols: int) -> dsa.Array:
    height, width = plan.reference.shape
    ych, xch = _split(height, rows), _split(width, cols)
    stat = path.stat()  # a changed file gets new keys
    token = tokenize(
        plan.path, stat.st_mtime_ns, stat.st_size, plan.band, plan.reference, plan.kernel,
        plan.indexer.lut.tobytes(), plan.indexer.groups, plan.indexer.fill, plan.nodata,
        plan.samples, plan.lattice, plan.sub_block, ych, xch,
    )  # fmt: skip
    name, plan_key = f"class-fractions-{token}", f"class-fractions-plan-{token}"
    # The plan is one graph key shared by every task: it is pickled once, not per chunk.
    dsk: dict = {plan_key: plan}
    y_edges, x_edges = np.cumsum((0, *ych)), np.cumsum((0, *xch))
    for i in range(len(ych)):
        for j in range(len(xch)):
            r0, r1, c0, c1 = (int(v) for v in (*y_edges[i : i + 2], *x_edges[j : j + 2]))
            dsk[(name, 0, i, j)] = (_chunk, plan_key, r0, r1, c0, c1)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=())
    n_groups = len(plan.indexer.groups)
    meta = np.empty((0, 0, 0), dtype="float32")
    return dsa.Array(graph, name, chunks=((n_groups,), ych, xch), dtype="float32", meta=meta)


def _wrap(data: dsa.Array, groups: tuple[str, ...], reference: Grid) -> xr.DataArray:
    out = xr.DataArray(
        data,
        dims=("group", "y", "x"),
        coords={"group": list(groups), "y": reference.ys(), "x": reference.xs()},
    )
    return out.rio.write_crs(reference.crs_wkt).rio.write_transform(reference.transform)


# ----------------------------------------------------------------- geometry


def _corner_bounds(grid: Grid) -> tuple[float, float, float, float]:
    h, w = grid.shape
    xs, ys = _apply(grid.transform, np.array([0, w, 0, w], float), np.array([0, 0, h, h], float))
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _lonlat(grid: Grid) -> str:
    try:
        to_ll = Transformer.from_crs(grid.crs, CRS.from_epsg(4326), always_xy=True)
        w, s, e, n = to_ll.transform_bounds(*_corner_bounds(grid), densify_pts=21)
    except Exception:  # message only: any pyproj failure
        return f"{_corner_bounds(grid)} in its own CRS"
    if not all(map(math.isfinite, (w, s, e, n))):
        return f"{_corner_bounds(grid)} in its own CRS"
    return f"lon {w:.4f}…{e:.4f}, lat {s:.4f}…{n:.4f}"


def _check_overlap(src: Grid, ref: Grid, same_crs: bool, what: str) -> None:
    sx0, sy0, sx1, sy1 = _corner_bounds(src)
    box = None
    if same_crs:
        box = _corner_bounds(ref)
    else:
        try:
            box = _transformer(ref.crs_wkt, src.crs_wkt).transform_bounds(
                *_corner_bounds(ref), densify_pts=21
            )
        except Exception:  # pyproj raises several types
            box = None
        if box is not None and not all(map(math.isfinite, box)):
            box = None
    if box is not None:
        overlaps = box[0] < sx1 and box[2] > sx0 and box[1] < sy1 and box[3] > sy0
    else:
        # Bounds could not be transformed (projection domain): test sample points.
        h, w = ref.shape
        r, c = np.meshgrid(np.linspace(0, h, 65), np.linspace(0, w, 65), indexing="ij")
        u, v = _to_source_px(src, ref, same_crs, r.ravel(), c.ravel())
        overlaps = bool(np.any((u > 0) & (u < src.width) & (v > 0) & (v < src.height)))
    if not overlaps:
        raise NoOverlapError(
            f"{what} does not overlap the reference grid: it spans {_lonlat(src)}, the reference "
            f"grid ({ref.describe()}) spans {_lonlat(ref)}. Pass a land-cover file (or tile) "
            "covering the SOC area; if the extents look right, one file's CRS is wrong "
            "(fix it with gdal_edit.py -a_srs EPSG:XXXX FILE)."
        )


def _survey(
    src: Grid, ref: Grid, same_crs: bool
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Cell size in source pixels, measured on up to 17 × 17 sample cells near the source.

    Returns ``(step_y, step_x)``: the largest source-pixel distance (along either source
    axis) covered by one cell along reference y and x; ``(bbox_y, bbox_x)``: the largest
    bounding box of a cell in source pixels; and the largest error (source pixels) of
    bilinear interpolation at a cell centre.
    """
    h, w = ref.shape
    rows = np.unique(np.linspace(0, h - 1, min(h, 17)).round())
    cols = np.unique(np.linspace(0, w - 1, min(w, 17)).round())
    r, c = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
    # The cell holding the source centre, so a small source between samples is measured.
    cx, cy = _apply(src.transform, src.width / 2, src.height / 2)
    if not same_crs:
        cx, cy = _transformer(src.crs_wkt, ref.crs_wkt).transform(cx, cy, errcheck=False)
    if math.isfinite(cx) and math.isfinite(cy):
        cc, rr = _apply(~ref.transform, cx, cy)
        if 0 <= rr < h and 0 <= cc < w:
            r, c = np.append(r, math.floor(rr)), np.append(c, math.floor(cc))
    dr = np.array([0, 0, 1, 1, 0.5])[:, None]
    dc = np.array([0, 1, 0, 1, 0.5])[:, None]
    u, v = _to_source_px(src, ref, same_crs, r[None, :] + dr, c[None, :] + dc)
    ok = np.isfinite(u).all(axis=0) & np.isfinite(v).all(axis=0)
    span_u, span_v = np.ptp(u[:4], axis=0), np.ptp(v[:4], axis=0)
    near = ok & (u[4] > -span_u) & (u[4] < src.width + span_u)
    near &= (v[4] > -span_v) & (v[4] < src.height + span_v)
    use = near if near.any() else ok
    if not use.any():
        return (1.0, 1.0), (1.0, 1.0), 0.0
    u, v, span_u, span_v = u[:, use], v[:, use], span_u[use], span_v[use]
    along_x = np.maximum.reduce(
        [abs(u[1] - u[0]), abs(v[1] - v[0]), abs(u[3] - u[2]), abs(v[3] - v[2])]
    )
    along_y = np.maximum.reduce(
        [abs(u[2] - u[0]), abs(v[2] - v[0]), abs(u[3] - u[1]), abs(v[3] - v[1])]
    )
    err = np.maximum(abs(u[:4].mean(axis=0) - u[4]), abs(v[:4].mean(axis=0) - v[4]))
    return (
        (float(along_y.max()), float(along_x.max())),
        (float(span_v.max()), float(span_u.max())),
        float(err.max()),
    )
