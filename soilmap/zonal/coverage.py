"""Exact cell coverage of polygons on a grid, by signed-area accumulation.

:func:`_coverage_spans` gives, for polygons in a window of ``rows × cols`` cells,
the exact share of every cell inside each polygon as a list of **row spans of
constant coverage** ``(owner, row, start, stop, coverage)``; :func:`_span_reducer`
reduces any per-cell array over those spans in one ``ufunc.reduceat``.  Both are
the inner kernels of :func:`soilmap.zonal.sums.zonal_sums`.

Signed-area accumulation
------------------------
The exact scan-line method of vector font rasterisers.  Rings are oriented
exterior counter-clockwise and holes clockwise, so holes subtract.  Each polygon
edge is split where it crosses a column or row line (:func:`_crossings`), so every
piece lies in one cell.  In grid coordinates (rows growing downwards) a
counter-clockwise ring runs downwards on its left side and upwards on its right,
so a piece of signed height ``dv`` inside cell ``(i, j)`` adds its exact signed
area ``dv × (1 − fx)`` to that cell (``fx``: the piece's mean offset across the
cell; exact, as the piece is straight) and the rest of its height, ``dv × fx``, to
the next cell, so that every cell further right gets its whole height.  The
running sum of these deltas along each row, the signed height of the ring's edges
to the left of a cell, is then the exact covered fraction of every cell.

Between two cells touched by edges the running sum is constant, so only the
touched cells are ever stored: each is the start of a span that runs to the next
touched cell (or the row's end).  Accumulated coverage is exact up to rounding
(~1e-15 per edge crossing of a row); spans below :data:`_COVERAGE_EPS` are empty,
not slivers of polygon, and coverage is capped at 1.  Totals agree with
exactextract's to the float32 rounding of its coverage fractions (≤ 1e-7
relative, see ``tests/zonal/test_exactextract.py``).

Coverage is the planar share of the cell in the grid's own coordinates (as in
exactextract); :mod:`soilmap.zonal` weights it by the true cell area.
"""

from __future__ import annotations

import numpy as np
import shapely

# Accumulated coverage is exact up to rounding (~1e-15 per edge crossing of a row);
# anything below this is an empty span, not a sliver of polygon.
_COVERAGE_EPS = 1e-10


def _crossings(a0: np.ndarray, a1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment index and parameter t of every integer line strictly inside each segment."""
    lo, hi = np.minimum(a0, a1), np.maximum(a0, a1)
    first = np.floor(lo) + 1.0
    n = np.maximum(np.ceil(hi) - first, 0.0).astype(np.int64)
    seg = np.repeat(np.arange(a0.size), n)
    step = np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)
    k = first[seg] + step
    return seg, (k - a0[seg]) / (a1[seg] - a0[seg])


def _coverage_spans(
    geoms: np.ndarray,
    owners: np.ndarray,
    origin: tuple[float, float],
    res: tuple[float, float],
    shape: tuple[int, int],
) -> tuple[np.ndarray, ...]:
    """Exact cell coverage of polygons, as row spans of constant coverage.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        Valid polygons (any mix of (Multi)Polygon and collections) in grid CRS
        coordinates, already clipped to the window (``shapely.clip_by_rect``):
        vertices outside it are only clamped onto its edges.
    owners : numpy.ndarray of int
        Region number of each geometry.
    origin : (float, float)
        ``(x, y)`` of the window's top-left corner.
    res : (float, float)
        Positive cell width and height, CRS units.
    shape : (int, int)
        Window ``(rows, cols)``.

    Returns
    -------
    owner, row, start, stop, coverage : numpy.ndarray
        Cells ``row, start:stop`` are covered by ``coverage`` (0 < c ≤ 1) of region
        ``owner``; sorted by (owner, row, start).
    """
    h, w = shape
    empty = (np.empty(0, np.int64),) * 4 + (np.empty(0),)
    parts, i1 = shapely.get_parts(geoms, return_index=True)
    parts, i2 = shapely.get_parts(parts, return_index=True)  # collections of multipolygons
    polygonal = shapely.get_type_id(parts) == 3
    parts, part_owner = parts[polygonal], np.asarray(owners)[i1[i2[polygonal]]]
    if parts.size == 0:
        return empty
    # Exterior rings counter-clockwise, holes clockwise: holes then subtract.
    parts = shapely.orient_polygons(parts, exterior_cw=False)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, pt_ring = shapely.get_coordinates(rings, return_index=True)
    u = np.clip((xy[:, 0] - origin[0]) / res[0], 0.0, w)
    v = np.clip((origin[1] - xy[:, 1]) / res[1], 0.0, h)  # rows grow downwards
    same = pt_ring[1:] == pt_ring[:-1]
    u0, u1, v0, v1 = u[:-1][same], u[1:][same], v[:-1][same], v[1:][same]
    seg_owner = part_owner[ring_part[pt_ring[:-1][same]]]
    # Horizontal edges enclose no area.
    keep = v0 != v1
    u0, u1, v0, v1, seg_owner = u0[keep], u1[keep], v0[keep], v1[keep], seg_owner[keep]
    if u0.size == 0:
        return empty

    # Split each edge where it crosses a column or row line; every piece lies in one cell.
    sx, tx = _crossings(u0, u1)
    sy, ty = _crossings(v0, v1)
    n = u0.size
    seg = np.concatenate([np.arange(n), np.arange(n), sx, sy])
    t = np.concatenate([np.zeros(n), np.ones(n), tx, ty])
    order = np.lexsort((t, seg))
    seg, t = seg[order], t[order]
    piece = seg[1:] == seg[:-1]
    s, ta, tb = seg[:-1][piece], t[:-1][piece], t[1:][piece]
    du, dv = u1[s] - u0[s], v1[s] - v0[s]
    um = u0[s] + 0.5 * (ta + tb) * du
    vm = v0[s] + 0.5 * (ta + tb) * dv
    dvp = (tb - ta) * dv
    col = np.minimum(np.floor(um), w).astype(np.int64)
    row = np.minimum(np.floor(vm), h - 1).astype(np.int64)
    fx = um - col
    # A counter-clockwise ring (in x, y) runs downwards in rows on its left side and
    # upwards on its right: the running sum of signed heights from the left is the
    # covered share of each cell.
    w1 = w + 1
    base = (seg_owner[s] * h + row) * w1
    keys = np.concatenate([base + col, base + col + 1])
    deltas = np.concatenate([dvp * (1.0 - fx), dvp * fx])
    inside = np.concatenate([col, col + 1]) < w
    keys, deltas = keys[inside], deltas[inside]
    if keys.size == 0:
        return empty
    ukey, inv = np.unique(keys, return_inverse=True)
    d = np.bincount(inv.ravel(), weights=deltas)
    group, start = np.divmod(ukey, w1)
    new = np.r_[True, group[1:] != group[:-1]]
    total = np.cumsum(d)
    first = np.flatnonzero(new)
    before = (total - d)[first]
    coverage = total - np.repeat(before, np.diff(np.r_[first, total.size]))
    stop = np.r_[start[1:], w]
    stop[np.r_[new[1:], True]] = w
    ok = coverage > _COVERAGE_EPS
    owner, row = np.divmod(group[ok], h)
    return owner, row, start[ok], stop[ok], np.minimum(coverage[ok], 1.0)


def _span_reducer(row: np.ndarray, start: np.ndarray, stop: np.ndarray, shape: tuple[int, int]):
    """A function ``reduce(ufunc, q)`` giving ``ufunc.reduce(q[row, start:stop])`` per span.

    One ``ufunc.reduceat`` over the flattened block: for sums this is a plain running
    sum over at most one row (error ≤ width × 1.1e-16 of the span's Σ|q|), 6x faster
    than differences of row-wise prefix sums.  Spans must be non-empty.
    """
    n, w = shape[0] * shape[1], shape[1]
    a, b = row * w + start, row * w + stop
    idx = np.empty(2 * a.size, np.int64)
    idx[0::2], idx[1::2] = a, np.minimum(b, n - 1)
    # reduceat cannot end a slice at the array's end: the last cell is folded in by
    # hand (a one-cell span there already is that cell).
    fold = (b == n) & (a < n - 1)

    def reduce(ufunc: np.ufunc, q: np.ndarray) -> np.ndarray:
        flat = q.ravel()
        out = ufunc.reduceat(flat, idx)[0::2]
        out[fold] = ufunc(out[fold], flat[n - 1])
        return out

    return reduce


def clip_to_rect(geoms: np.ndarray, bounds: tuple[float, ...]) -> np.ndarray:
    """The part of each polygon inside a rectangle, robust to slivers at its edges.

    ``shapely.clip_by_rect`` (GEOS's fast rectangle clipper) is used where it works.
    It fails on polygons with a thin spike whose tip pokes across the rectangle's
    edge (GEOS 3.14: "Invalid number of points in LinearRing found 3"): both sides
    of the spike cross the edge at the same rounded point, and the clipped tip
    becomes a ring of three points.  Natural Earth's 1:110m Sudan has such a spike
    at 33.97° E, 8.68° N, and small chunks put a chunk edge across it.  Those
    geometries are clipped by a full overlay intersection instead (GEOS OverlayNG,
    which drops the degenerate tip); the result may be a collection of the polygon
    part and a line, which :func:`_coverage_spans` reads as its polygonal part.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        Valid polygons.
    bounds : (float, float, float, float)
        ``(xmin, ymin, xmax, ymax)`` of the rectangle, CRS units.

    Returns
    -------
    numpy.ndarray of shapely geometries
        Same length and order as ``geoms``.
    """
    geoms = np.asarray(geoms, dtype=object)
    try:
        return np.asarray(shapely.clip_by_rect(geoms, *bounds), dtype=object)
    except shapely.errors.GEOSException:
        pass
    box = shapely.box(*bounds)
    out = np.empty(geoms.size, dtype=object)
    for k, geom in enumerate(geoms):
        try:
            out[k] = shapely.clip_by_rect(geom, *bounds)
        except shapely.errors.GEOSException:
            out[k] = shapely.intersection(geom, box)
    return out
