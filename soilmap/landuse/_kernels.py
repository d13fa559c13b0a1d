"""The three kernels of :mod:`soilmap.landuse.regrid`, and the dask task that runs them.

A task (:func:`_chunk`) gets a :class:`_Plan` (small and picklable: a path and WKT,
no file handle) and the bounds of its reference cells; it opens the source file by
path and works through its cells in sub-blocks, each handed to one kernel:

``area-exact`` (:func:`_exact`)
    Separable exact area weights, same CRS and north-up grids: overlaps per axis
    (:func:`_segments`), a bincount over source row strips (:func:`_x_stage`), then
    a weighted sum of rows (:func:`_y_stage`).
``area-sampled`` (:func:`_sampled`)
    Supersampled fractions for any CRS pair: sub-points placed bilinearly inside
    lattice parts whose corners are transformed exactly (:func:`_to_source_px`).
``nearest`` (:func:`_nearest`)
    One-hot class of the source pixel under each cell centre.

Every kernel reads source codes as *bins* (:func:`_read_bins`): 0 no data,
``1..G`` the groups, :data:`_UNKNOWN_BIN` a code the table does not list, which
raises :class:`~soilmap.errors.UnknownClassError`.  The kernels, their choice and
their error bounds are described in :mod:`soilmap.landuse.regrid`.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.windows import Window

from soilmap._geodesy import band_area
from soilmap.errors import UnknownClassError
from soilmap.grid import Grid
from soilmap.io.blocks import read_env
from soilmap.landuse.codes import float_codes, is_float_codes
from soilmap.landuse.table import LUT_NODATA, LUT_UNKNOWN, GroupIndexer

# Extra source pixels read around a sampled footprint: sub-points never fall
# outside the window, whatever the rounding of the bounding box.
_MARGIN_PX = 2
# Target edges this close (source pixels) to a source edge are snapped onto it,
# so aligned grids give whole pixels, not float slivers.
_SNAP_PX = 1e-6
_BATCH = 1 << 21  # sub-points per vectorised step (~20–40 MB of temporaries)
_STRIP = 1 << 20  # pixels per strip of the exact kernel (8 MB keys, stays in cache)
_UNKNOWN_BIN = 255


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
            # read_env: no decoding thread pool for a remote file (GDAL 3.10 zero-fills
            # the tiles of a failed request with one; see soilmap.io.env).
            with read_env(str(plan.path)), rasterio.open(plan.path) as ds:
                out[:, a - r0 : a1 - r0, b - c0 : b1 - c0] = kernel(plan, ds, a, a1, b, b1)
    return out


def _read_bins(plan: _Plan, ds, rows: tuple[int, int], cols: tuple[int, int]):
    """Codes of a source window and their bins: 0 none, 1..G groups, 255 unknown."""
    window = Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])
    codes = ds.read(plan.band, window=window)
    if is_float_codes(codes.dtype):  # NaN for nodata; non-integral values refused
        nodata = ds.nodatavals[plan.band - 1]
        codes = float_codes(codes, nodata, plan.what, offset=(rows[0], cols[0]))
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
    if plan.ellipsoid is None:
        raise ValueError("latitude band areas need the plan's ellipsoid (lon/lat grids only).")
    a, b, unit = plan.ellipsoid
    half_pi = math.pi / 2
    lat0, lat1 = (np.clip(np.asarray(x) * unit, -half_pi, half_pi) for x in (lat0, lat1))
    return np.abs(band_area(lat0, lat1, a, b))


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
    """Supersampled area fractions (any CRS pair).

    See :mod:`soilmap.landuse.regrid` for the bound.
    """
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
