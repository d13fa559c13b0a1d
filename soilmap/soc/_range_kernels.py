"""Block kernels of the range check: one pass per block, exact on every cell.

The range check (:mod:`soilmap.soc.ranges`) needs, per SOC input layer, the cells
outside the plausible range, the sentinels among them, the exact zeros, the lowest
and highest outside value and the first and last outside cell; and the exact-zero
stock cells per land-use group.  Each kernel here computes all of a block's numbers
at once, as one vector (:mod:`soilmap.blockstats`): it first takes the block's
minimum and maximum (one pass, no temporary) and, when no cell is outside the range
(or none is zero), returns the identities at once.  Nearly every block of a real
input is clean, so the check costs about one min/max pass per block; only blocks
that hold such cells pay for the masks, on exactly those cells.

The engine's windows are whole chunks of the run's grid (the run window's crop is
applied to the layers before the statistics are taken), so the chunks' vectors
count exactly the run's cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as dsa
import numpy as np

from soilmap.blockstats import BlockStats, Op, block_stats

__all__ = ["RANGE_STATS", "kept_layer", "range_stats", "zero_stats"]

#: The statistics of :func:`range_stats`, in vector order, with how they combine.
RANGE_STATS: dict[str, Op] = {
    "outside": "sum",
    "sentinel": "sum",
    "zero": "sum",
    "min": "min",
    "max": "max",
    "first": "min",
    "last": "max",
}
_COUNTS = ("outside", "sentinel", "zero")


def _extremes(x: np.ndarray) -> tuple[float, float]:
    """Minimum and maximum ignoring NaN (NaN, NaN for an all-NaN or empty block)."""
    if x.size == 0:
        return np.nan, np.nan
    return float(np.fmin.reduce(x, axis=None)), float(np.fmax.reduce(x, axis=None))


def _outside(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray((x < lo) | (x > hi))


def _range_block(
    x: np.ndarray,
    *,
    lo: float,
    hi: float,
    sentinels: np.ndarray,
    huge: float,
    width: int,
    origin: tuple[int, int],
) -> np.ndarray:
    """The :data:`RANGE_STATS` vector of one block; ``origin`` its first cell."""
    mn, mx = _extremes(x)
    # NaN cells are no data, not outside: an all-NaN block has NaN extremes.
    zeros = float(np.count_nonzero(x == 0)) if mn <= 0.0 <= mx else 0.0
    if not (mn < lo or mx > hi):
        return np.array([0.0, 0.0, zeros, np.nan, np.nan, np.nan, np.nan])
    bad = _outside(x, lo, hi)
    rows, cols = np.nonzero(bad)
    v = x[rows, cols]
    flat = (rows + origin[0]).astype("float64") * width + (cols + origin[1])
    sentinel = np.count_nonzero(np.isin(v, sentinels) | (np.abs(v) >= huge))
    return np.array(
        [
            float(v.size),
            float(sentinel),
            zeros,
            float(np.fmin.reduce(v)),
            float(np.fmax.reduce(v)),
            float(flat.min()),
            float(flat.max()),
        ]
    )


def range_stats(
    data: dsa.Array,
    *,
    key: str,
    lo: float,
    hi: float,
    sentinels: Sequence[float] = (),
    huge: float = np.inf,
    width: int | None = None,
    origin: tuple[int, int] = (0, 0),
) -> BlockStats:
    """The range check's statistics of a layer, one vector per chunk.

    Parameters
    ----------
    data : dask.array.Array
        The 2-D layer (float, NaN = no data).
    key : str
        Prefix of the statistics' keys: ``<key>:outside`` (cells outside
        ``[lo, hi]``), ``:sentinel`` (those among them equal to one of
        ``sentinels`` or with ``|value| >= huge``), ``:zero`` (cells exactly 0),
        ``:min`` / ``:max`` (lowest and highest outside value), ``:first`` /
        ``:last`` (flat index, row × width + col, of the first and last outside
        cell; NaN when none).
    lo, hi : float
        The plausible range, inclusive.
    sentinels : sequence of float
    huge : float
    width : int, optional
        Columns of the grid the flat indices count on (default: the layer's).
    origin : (int, int)
        Row and column of the layer's first cell on that grid (a cropped layer).

    Examples
    --------
    >>> import dask.array as dsa, numpy as np
    >>> x = dsa.from_array(np.array([[-999.0, 0.0], [50.0, 5e9]]), chunks=1)
    >>> bs = range_stats(x, key="k", lo=0, hi=800, sentinels=[-999])
    >>> {k: float(v) for k, v in bs.reduce(bs.data.compute()).items()}
    ... # doctest: +NORMALIZE_WHITESPACE
    {'k:outside': 2.0, 'k:sentinel': 1.0, 'k:zero': 1.0, 'k:min': -999.0,
     'k:max': 5000000000.0, 'k:first': 0.0, 'k:last': 3.0}
    """
    return block_stats(
        _range_block,
        data,
        "yx",
        keys=[f"{key}:{s}" for s in RANGE_STATS],
        ops=list(RANGE_STATS.values()),
        cell_chunks=data.chunks,
        integer=[f"{key}:{s}" for s in _COUNTS],
        origin=(int(origin[0]), int(origin[1])),
        lo=float(lo),
        hi=float(hi),
        sentinels=np.asarray(sentinels, dtype="float64"),
        huge=float(huge),
        width=int(data.shape[1] if width is None else width),
    )


def _kept_block(x: np.ndarray, *, lo: float, hi: float) -> np.ndarray:
    mn, mx = _extremes(x)
    if not (mn < lo or mx > hi):
        return x
    return np.where(_outside(x, lo, hi), np.nan, x).astype(x.dtype, copy=False)


def kept_layer(data: dsa.Array, *, lo: float, hi: float) -> dsa.Array:
    """``data`` with NaN where outside ``[lo, hi]``; a clean block is passed on uncopied."""
    if data.dtype.kind != "f":  # NaN needs a float (soilmap opens layers as float32)
        data = data.astype("float64")
    return dsa.map_blocks(
        _kept_block, data, dtype=data.dtype, lo=float(lo), hi=float(hi), meta=data._meta
    )


def _zero_block(stock: np.ndarray, shares: Sequence[np.ndarray]) -> np.ndarray:
    """Each group's share summed over the block's exact-zero stock cells.

    ``shares``: the blocks along the group axis (not concatenated: no copy).
    """
    mn, mx = _extremes(stock)
    if not (mn <= 0.0 <= mx):
        return np.zeros(sum(b.shape[0] for b in shares))
    zero = stock == 0
    return np.array([float(np.nansum(g[zero], dtype="float64")) for block in shares for g in block])


def zero_stats(stock: dsa.Array, shares: dsa.Array, groups: Sequence[str]) -> BlockStats:
    """Exact-zero stock cells per land-use group (their shares summed), per chunk.

    ``shares`` is ``(group, y, x)``, ``stock`` ``(y, x)`` with the same spatial
    chunks; keys ``"zeros:<group>"``.

    Examples
    --------
    >>> import dask.array as dsa, numpy as np
    >>> stock = dsa.from_array(np.array([[0.0, 5.0], [0.0, np.nan]]), chunks=1)
    >>> shares = dsa.from_array(
    ...     np.array([[[0.25, 1.0], [1.0, 1.0]], [[0.75, 0.0], [0.0, 0.0]]]), chunks=(1, 1, 1)
    ... )
    >>> bs = zero_stats(stock, shares, ["a", "b"])
    >>> {k: float(v) for k, v in bs.reduce(bs.data.compute()).items()}
    {'zeros:a': 1.25, 'zeros:b': 0.75}
    """
    return block_stats(
        _zero_block,
        stock,
        "yx",
        shares,
        "gyx",
        keys=[f"zeros:{g}" for g in groups],
        ops=["sum"] * len(groups),
        cell_chunks=stock.chunks,
    )
