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
"""

from __future__ import annotations

import functools
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dask.array as dsa
import numpy as np
import rasterio
import xarray as xr
from affine import Affine
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from pyproj import CRS, Transformer
from rasterio.windows import Window

from soilmap.areas import _band_area
from soilmap.classes import LUT_NODATA, LUT_UNKNOWN, ClassTable, GroupIndexer
from soilmap.errors import InputError, NoOverlapError, UnknownClassError
from soilmap.grid import Grid
from soilmap.io.raster import RasterLayout, gdal_env, open_categorical, read_layout
from soilmap.landuse import fractions_from_classes
from soilmap.meta import append_history

__all__ = ["MAX_WINDOW_PIXELS", "class_fractions", "covered_share"]

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
# Extra source pixels read around a sampled footprint: sub-points never fall
# outside the window, whatever the rounding of the bounding box.
_MARGIN_PX = 2
# Target edges this close (source pixels) to a source edge are snapped onto it,
# so aligned grids give whole pixels, not float slivers.
_SNAP_PX = 1e-6
_BATCH = 1 << 21  # sub-points per vectorised step (~20–40 MB of temporaries)
_STRIP = 1 << 20  # pixels per strip of the exact kernel (8 MB keys, stays in cache)
_UNKNOWN_BIN = 255
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
    >>> from soilmap.classes import load_class_table
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
    if method not in ("area", "nearest"):
        raise InputError(f"method must be 'area' or 'nearest', not {method!r}.")
    layout = read_layout(path, band=band, what="land cover")
    _check_integer(layout, "land cover")
    indexer = table.code_to_group_index(unknown)
    if layout.grid.matches(reference):
        classes = open_categorical(layout.path, band=band, chunks=chunks)
        out = fractions_from_classes(classes, table, reference=reference, unknown=unknown)
        out.attrs["method"] = "same-grid"
        return out
    nodata = layout.nodata
    if nodata is not None and (not float(nodata).is_integer() or int(nodata) in table.codes):
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
    return append_history(
        out,
        f"class_fractions({str(layout.path)!r}, table={table.name!r}, unknown={unknown!r}, "
        f"method={plan.kernel!r}, grid={reference.describe()})",
    )


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


@dataclass(frozen=True)
class _Plan:
    """Everything a task needs: small and picklable (a path and WKT, no file handle)."""

    path: str
    band: int
    source: Grid
    reference: Grid
    indexer: GroupIndexer
    nodata: int | None
    kernel: str
    same_crs: bool
    # (a, b, radians per unit) of a lon/lat reference: rows are weighted by band area.
    ellipsoid: tuple[float, float, float] | None
    samples: tuple[int, int]  # (ky, kx) sub-points per cell side
    lattice: int  # m: exactly transformed nodes per cell side
    sub_block: tuple[int, int]
    what: str
    table_desc: str
    fix: str


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

    The engine behind :func:`class_fractions` and :func:`soilmap.masks.raster_mask_fraction`.
    Checks the overlap (no pixels read); returns the dask array and its plan.
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
    rows, cols = sub if chunks is None else _check_chunks(chunks)
    ellipsoid = None
    if reference.crs.is_geographic and axis_aligned:
        ell = reference.crs.ellipsoid
        unit = reference.crs.axis_info[0].unit_conversion_factor
        ellipsoid = (ell.semi_major_metre, ell.semi_minor_metre, unit)
    plan = _Plan(
        path=str(layout.path),
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


def _check_chunks(chunks: tuple[int, int]) -> tuple[int, int]:
    try:
        rows, cols = (int(c) for c in chunks)
    except (TypeError, ValueError):
        raise InputError(f"chunks must be a (rows, cols) pair of ints, not {chunks!r}.") from None
    if rows <= 0 or cols <= 0:
        raise InputError(f"chunks must be positive, not {chunks!r}.")
    return rows, cols


def _check_integer(layout: RasterLayout, what: str) -> None:
    if not np.issubdtype(np.dtype(layout.dtype), np.integer):
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


_local = threading.local()


def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    # pyproj transformers must not be shared between threads: one per thread and pair.
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    key = (src_wkt, dst_wkt)
    if key not in cache:
        if len(cache) >= 8:
            cache.clear()
        cache[key] = Transformer.from_crs(
            CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True
        )
    return cache[key]


def _apply(t: Affine, x, y):
    """``t`` applied to coordinate arrays (affine's operators change between versions)."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def _to_source_px(
    src: Grid, ref: Grid, same_crs: bool, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel coordinates ``(u, v)`` of reference pixel coordinates; NaN if unmappable."""
    x, y = _apply(ref.transform, np.asarray(cols, float), np.asarray(rows, float))
    if not same_crs:
        x, y = _transformer(ref.crs_wkt, src.crs_wkt).transform(x, y, errcheck=False)
    u, v = _apply(~src.transform, np.asarray(x, float), np.asarray(y, float))
    bad = ~(np.isfinite(u) & np.isfinite(v))
    if bad.any():
        u, v = np.where(bad, np.nan, u), np.where(bad, np.nan, v)
    return u, v


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


# ------------------------------------------------------------------- tasks


def _chunk(plan: _Plan, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Fractions ``(group, rows, cols)`` of reference cells ``[r0:r1, c0:c1]``."""
    out = np.zeros((len(plan.indexer.groups), r1 - r0, c1 - c0), dtype="float32")
    sh, sw = plan.sub_block
    kernel = _KERNELS[plan.kernel]
    for a in range(r0, r1, sh):
        for b in range(c0, c1, sw):
            a1, b1 = min(a + sh, r1), min(b + sw, c1)
            # One open per sub-block: closing drops the blocks GDAL cached for this
            # dataset, which would otherwise grow with the chunk, not the sub-block.
            with gdal_env(), rasterio.open(plan.path) as ds:
                out[:, a - r0 : a1 - r0, b - c0 : b1 - c0] = kernel(plan, ds, a, a1, b, b1)
    return out


def _read_bins(plan: _Plan, ds, rows: tuple[int, int], cols: tuple[int, int]):
    """Codes of a source window and their bins: 0 none, 1..G groups, 255 unknown."""
    window = Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])
    codes = ds.read(plan.band, window=window)
    if codes.size and codes.min() == codes.max():  # e.g. all nodata: one lookup, no copy
        return codes, np.broadcast_to(_read_bins_general(plan, codes[:1, :1]), codes.shape)
    if codes.dtype.kind == "u" and codes.dtype.itemsize <= 2:
        # One table lookup per pixel: the general indexer widens codes to int64.
        table, bins = _bin_table(plan, 256**codes.dtype.itemsize), np.empty(codes.shape, np.uint8)
        step = max(1, _STRIP // max(codes.shape[1], 1))  # strips stay in cache
        for a in range(0, codes.shape[0], step):
            np.take(table, codes[a : a + step], out=bins[a : a + step])
        return codes, bins
    return codes, _read_bins_general(plan, codes)


def _read_bins_general(plan: _Plan, codes: np.ndarray) -> np.ndarray:
    idx = plan.indexer(codes)
    if plan.nodata is not None:
        idx[codes == plan.nodata] = LUT_NODATA
    bins = (idx + 1).astype(np.uint8)
    bins[idx == LUT_UNKNOWN] = _UNKNOWN_BIN
    return bins


@functools.lru_cache(maxsize=16)
def _bin_table(plan: _Plan, size: int) -> np.ndarray:
    codes = np.arange(size)
    idx = plan.indexer(codes)
    if plan.nodata is not None and 0 <= plan.nodata < size:
        idx[plan.nodata] = LUT_NODATA
    table = (idx + 1).astype(np.uint8)
    table[idx == LUT_UNKNOWN] = _UNKNOWN_BIN
    return table


def _raise_unknown(plan: _Plan, codes: np.ndarray) -> None:
    found = sorted(int(c) for c in np.unique(codes))
    raise UnknownClassError(
        f"{plan.what} holds codes {found} that class table {plan.table_desc} does not list. "
        + plan.fix
    )


def _band(plan: _Plan, lat0: np.ndarray, lat1: np.ndarray) -> np.ndarray:
    """Ground area of latitude bands (CRS units), per radian of longitude (m²)."""
    a, b, unit = plan.ellipsoid
    half_pi = math.pi / 2
    lat0, lat1 = (np.clip(np.asarray(x) * unit, -half_pi, half_pi) for x in (lat0, lat1))
    return np.abs(_band_area(lat0, lat1, a, b))


def _segments(edges: np.ndarray, n_src: int):
    """Overlaps of target intervals ``[edges[k], edges[k+1]]`` with source pixels ``[i, i+1]``.

    ``edges`` are in source pixel units (ascending or descending).  Returns source
    index, target index, start and end (pixel units) of every overlap, in order of
    position, and the edges snapped to whole pixels where within :data:`_SNAP_PX`.
    """
    e = np.asarray(edges, dtype=np.float64)
    whole = np.round(e)
    e = np.where(np.abs(e - whole) <= _SNAP_PX, whole, e)
    desc = e[-1] < e[0]
    t = e[::-1] if desc else e
    lo, hi = max(t[0], 0.0), min(t[-1], float(n_src))
    if not hi > lo:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty.astype(float), empty.astype(float), e
    inner = np.arange(math.floor(lo) + 1, math.ceil(hi), dtype=np.float64)
    cuts = np.unique(np.concatenate(([lo], inner, t[(t > lo) & (t < hi)], [hi])))
    start, end = cuts[:-1], cuts[1:]
    mid = 0.5 * (start + end)
    k = np.searchsorted(t, mid, side="right") - 1
    if desc:
        k = len(e) - 2 - k
    return np.floor(mid).astype(np.int64), k, start, end, e


def _exact(plan: _Plan, ds, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Separable exact area weights (same CRS, north-up grids)."""
    s, t = plan.source.transform, plan.reference.transform
    h, w = r1 - r0, c1 - c0
    nb = len(plan.indexer.groups) + 1
    out = np.zeros((nb - 1, h, w), dtype="float32")
    xs, xk, xa, xb, _ = _segments((t.c + t.a * np.arange(c0, c1 + 1) - s.c) / s.a, ds.width)
    ys, yk, ya, yb, ye = _segments((t.f + t.e * np.arange(r0, r1 + 1) - s.f) / s.e, ds.height)
    if xs.size == 0 or ys.size == 0:
        return out
    col0, col1, row0, row1 = int(xs[0]), int(xs[-1]) + 1, int(ys[0]), int(ys[-1]) + 1
    codes, bins = _read_bins(plan, ds, (row0, row1), (col0, col1))
    top = bins.max()  # one cheap pass answers both questions
    if top == _UNKNOWN_BIN:
        _raise_unknown(plan, codes[bins == _UNKNOWN_BIN])
    if top == 0:
        return out  # nodata only
    # y: share of the target cell's height, or of its ground area (x: in _x_stage).
    if plan.ellipsoid is not None:
        lat = lambda px: s.f + s.e * px
        y_share = _band(plan, lat(ya), lat(yb)) / _band(plan, lat(ye[yk]), lat(ye[yk + 1]))
    else:
        y_share = (yb - ya) / abs(t.e / s.e)
    per_row = _x_stage(bins, xs - col0, xk, xb - xa, abs(t.a / s.a), w, nb)
    res = _y_stage(per_row, ys - row0, yk, y_share, h)
    return res[..., 1:].transpose(2, 0, 1)


def _x_stage(bins, cols, k, length, rx: float, w: int, nb: int) -> np.ndarray:
    """``(source row, target col, bin)`` sums of x-shares, by bincount over row strips.

    Every source column is first counted whole (share ``1 / rx``) in the target
    column of its first overlap; the few columns cut by a target edge are then
    corrected by a weighted pass over those columns only, so no full-size gather
    is ever made.
    """
    height, width = bins.shape
    first = np.r_[True, cols[1:] != cols[:-1]]  # cols[first] is 0 .. width-1
    cut = length[first] != 1.0
    fix_cols = np.r_[cols[first][cut], cols[~first]]
    fix_base = np.r_[k[first][cut], k[~first]].astype(np.intp) * nb
    fix_share = np.r_[length[first][cut] - 1.0, length[~first]] / rx
    base = k[first].astype(np.intp) * nb
    out = np.zeros((height, w, nb))
    strip = max(1, _STRIP // width)
    offsets = np.arange(strip, dtype=np.intp)[:, None] * (w * nb)
    for a in range(0, height, strip):
        b = min(a + strip, height)
        n, size = b - a, (b - a) * w * nb
        key = bins[a:b].astype(np.intp)
        key += base
        key += offsets[:n]
        out[a:b] += np.bincount(key.ravel(), minlength=size).reshape(n, w, nb) / rx
        if fix_cols.size:
            key = bins[a:b, fix_cols].astype(np.intp)
            key += fix_base
            key += offsets[:n]
            wts = np.broadcast_to(fix_share, key.shape).ravel()
            out[a:b] += np.bincount(key.ravel(), weights=wts, minlength=size).reshape(n, w, nb)
    return out


def _y_stage(per_row, rows, k, share, h: int) -> np.ndarray:
    """``(target row, target col, bin)``: y-share-weighted sums of source rows."""
    _, w, nb = per_row.shape
    out = np.zeros((h, w, nb))
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    step = max(1, _BATCH // max(rows.size * nb, 1))
    for c in range(0, w, step):
        part = per_row[rows, c : c + step] * share[:, None, None]
        out[k[starts], c : c + step] = np.add.reduceat(part, starts, axis=0)
    return out


def _window(u: np.ndarray, v: np.ndarray, ds, margin: int):
    """Source window ``(rows, cols)`` around finite ``u, v``, and whether it was clipped."""
    lo_u, hi_u = math.floor(np.nanmin(u)) - margin, math.floor(np.nanmax(u)) + 1 + margin
    lo_v, hi_v = math.floor(np.nanmin(v)) - margin, math.floor(np.nanmax(v)) + 1 + margin
    cols = (max(0, lo_u), min(ds.width, hi_u))
    rows = (max(0, lo_v), min(ds.height, hi_v))
    clipped = (cols[0], rows[0], cols[1], rows[1]) != (lo_u, lo_v, hi_u, hi_v)
    return rows, cols, clipped


def _sampled(plan: _Plan, ds, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Supersampled area fractions (any CRS pair); see the module notes for the bound."""
    h, w, m = r1 - r0, c1 - c0, plan.lattice
    nb = len(plan.indexer.groups) + 1
    out = np.zeros((nb - 1, h, w), dtype="float32")
    rr, cc = np.meshgrid(
        r0 + np.arange(h * m + 1) / m, c0 + np.arange(w * m + 1) / m, indexing="ij"
    )
    u, v = _to_source_px(plan.source, plan.reference, plan.same_crs, rr, cc)
    if not np.isfinite(u).any():
        return out
    rows, cols, clipped = _window(u, v, ds, _MARGIN_PX)
    if rows[1] <= rows[0] or cols[1] <= cols[0]:
        return out
    codes, bins = _read_bins(plan, ds, rows, cols)
    top = bins.max()
    if top == 0:
        return out  # nodata only
    if top != _UNKNOWN_BIN and bins.min() == top and not clipped and np.isfinite(u).all():
        out[top - 1] = 1.0  # one class under the whole sub-block
        return out
    ky, kx = plan.samples
    # Corners of every lattice part; a part with an unmappable corner samples nothing.
    corners = [a[i : i + h * m, j : j + w * m] for a in (u, v) for i in (0, 1) for j in (0, 1)]
    valid = np.logical_and.reduce([np.isfinite(c) for c in corners])
    todo = np.ones((h, w), dtype=bool)
    if kx * ky >= 1024:  # big cells: skip those lying in one class (a cheap test)
        todo = _uniform_cells(out, bins, corners, valid, rows, cols, ds, m)
    cell_rows, cell_cols = np.nonzero(todo)
    if cell_rows.size == 0:
        return out
    # Parts of the cells to sample, cell by cell (so each cell sums in the same order).
    pi = (cell_rows[:, None, None] * m + np.arange(m)[None, :, None]).repeat(m, axis=2).ravel()
    pj = (cell_cols[:, None, None] * m + np.arange(m)[None, None, :]).repeat(m, axis=1).ravel()
    cell = (cell_rows * w + cell_cols).repeat(m * m)
    weights = _sub_row_weights(plan, r0, h, m, ky // m, kx) if plan.ellipsoid else None
    acc = np.zeros(h * w * nb)
    pad = np.zeros((rows[1] - rows[0] + 2, cols[1] - cols[0] + 2), dtype=np.uint8)
    pad[1:-1, 1:-1] = bins
    pad_codes = None
    qy, qx = ky // m, kx // m
    s_ = (np.arange(qx) + 0.5) / qx
    t_ = (np.arange(qy) + 0.5) / qy
    step = max(1, _BATCH // (qy * qx))
    for a in range(0, pi.size, step):
        sel = slice(a, a + step)
        ok = valid[pi[sel], pj[sel]]
        idx = []
        for u00, u10, u01, u11, origin, size in (
            (*(c[pi[sel], pj[sel]] for c in corners[:4]), cols[0], pad.shape[1]),
            (*(c[pi[sel], pj[sel]] for c in corners[4:]), rows[0], pad.shape[0]),
        ):
            # Bilinear inside the part: (u00 + t·dy) + s·(dx + t·dxy), in global pixels.
            dx, dy, dxy = u10 - u00, u01 - u00, u11 - u10 - u01 + u00
            lead = u00[:, None] + dy[:, None] * t_[None, :]
            slope = dx[:, None] + dxy[:, None] * t_[None, :]
            pos = lead[:, :, None] + slope[:, :, None] * s_[None, None, :]
            pos[~ok] = -1.0  # lands on the empty border
            ipos = np.floor(pos).astype(np.int64) - (origin - 1)
            idx.append(np.clip(ipos, 0, size - 1, out=ipos))
        flat = idx[1] * pad.shape[1] + idx[0]
        val = np.take(pad.ravel(), flat)
        hit = val == _UNKNOWN_BIN
        if hit.any():
            if pad_codes is None:
                pad_codes = np.zeros(pad.shape, dtype=codes.dtype)
                pad_codes[1:-1, 1:-1] = codes
            _raise_unknown(plan, np.take(pad_codes.ravel(), flat[hit]))
        key = val + (cell[sel] * nb)[:, None, None]
        wts = None
        if weights is not None:
            wts = np.broadcast_to(weights[pi[sel]][:, :, None], key.shape).ravel()
        acc += np.bincount(key.ravel(), weights=wts, minlength=acc.size)
    if weights is None:
        acc /= kx * ky
    res = acc.reshape(h, w, nb)[..., 1:].transpose(2, 0, 1)
    out[:, todo] = res[:, todo]
    return out


def _sub_row_weights(plan: _Plan, r0: int, h: int, m: int, qy: int, kx: int) -> np.ndarray:
    """Weight of one sub-point per (lattice row, sub-row): its band's share of the cell row."""
    sub = r0 + (np.arange(h * m)[:, None] + np.arange(qy + 1)[None, :] / qy) / m
    t = plan.reference.transform
    lat = t.f + t.e * sub
    rows = r0 + np.arange(h * m + 1)[:-1] // m
    whole = _band(plan, t.f + t.e * rows, t.f + t.e * (rows + 1))
    return _band(plan, lat[:, :-1], lat[:, 1:]) / whole[:, None] / kx


def _uniform_cells(out, bins, corners, valid, rows, cols, ds, m: int) -> np.ndarray:
    """Fill cells whose footprint holds a single bin; return the cells left to sample."""
    h, w = out.shape[1:]
    lo_u = np.minimum.reduce(corners[:4]).reshape(h, m, w, m).min(axis=(1, 3))
    hi_u = np.maximum.reduce(corners[:4]).reshape(h, m, w, m).max(axis=(1, 3))
    lo_v = np.minimum.reduce(corners[4:]).reshape(h, m, w, m).min(axis=(1, 3))
    hi_v = np.maximum.reduce(corners[4:]).reshape(h, m, w, m).max(axis=(1, 3))
    whole = valid.reshape(h, m, w, m).all(axis=(1, 3))
    todo = np.ones((h, w), dtype=bool)
    for i, j in zip(*np.nonzero(whole), strict=True):
        # One pixel of margin: a footprint edge may cut the next pixel.
        u0, u1 = math.floor(lo_u[i, j]) - 1, math.floor(hi_u[i, j]) + 2
        v0, v1 = math.floor(lo_v[i, j]) - 1, math.floor(hi_v[i, j]) + 2
        inside = u0 >= 0 and v0 >= 0 and u1 <= ds.width and v1 <= ds.height
        blk = bins[
            max(v0, rows[0]) - rows[0] : v1 - rows[0], max(u0, cols[0]) - cols[0] : u1 - cols[0]
        ]
        if blk.size == 0:
            continue
        top = blk.max()
        if top == 0:
            todo[i, j] = False  # no known land cover anywhere under the cell
        elif inside and top != _UNKNOWN_BIN and blk.min() == top:
            out[top - 1, i, j] = 1.0
            todo[i, j] = False
    return todo


def _nearest(plan: _Plan, ds, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """One-hot class of the source pixel under each cell centre."""
    nb = len(plan.indexer.groups) + 1
    out = np.zeros((nb - 1, r1 - r0, c1 - c0), dtype="float32")
    rr, cc = np.meshgrid(np.arange(r0, r1) + 0.5, np.arange(c0, c1) + 0.5, indexing="ij")
    u, v = _to_source_px(plan.source, plan.reference, plan.same_crs, rr, cc)
    with np.errstate(invalid="ignore"):
        iu, iv = np.floor(u), np.floor(v)
        inside = (iu >= 0) & (iu < ds.width) & (iv >= 0) & (iv < ds.height)
    if not inside.any():
        return out
    rows, cols, _ = _window(iu[inside], iv[inside], ds, 0)
    codes, bins = _read_bins(plan, ds, rows, cols)
    at = (iv[inside].astype(np.int64) - rows[0], iu[inside].astype(np.int64) - cols[0])
    val = bins[at]
    hit = val == _UNKNOWN_BIN
    if hit.any():
        _raise_unknown(plan, codes[at][hit])
    for g in range(nb - 1):
        out[g][inside] = val == g + 1
    return out


_KERNELS = {"area-exact": _exact, "area-sampled": _sampled, "nearest": _nearest}
