"""Block kernels of the range check: cheap on clean blocks, exact on every cell.

The range check (:mod:`soilmap.soc.ranges`) adds per-cell layers to a run whose
sums, minima and maxima the engine takes window by window with the outputs.  Built
from xarray expressions, those layers cost full-block temporaries per statistic (a
comparison, an ``isin`` over eight codes, a float64 index, a ``where`` copy), about
a tenth of a run.  Nearly every block of a real input is clean, so each kernel here
first takes the block's minimum and maximum (one pass, no temporary) and, when no
cell is outside the range (or no cell is zero), returns a zero-stride broadcast of
the reduction's identity: no allocation, and the engine's sum or minimum over it is
one pass over a single cached value.  Only blocks that hold such cells pay for the
masks, on exactly those cells.

The layers stay per cell (not per block), so any slice of them (the run window's
crop, the engine's windows) counts exactly the cells it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as dsa
import numpy as np

__all__ = ["STATS", "cell_layer", "kept_layer", "zero_share"]

#: The per-cell statistics :func:`cell_layer` builds, with their dtype.
STATS: dict[str, str] = {
    "outside": "bool",
    "sentinel": "bool",
    "zero": "bool",
    "value": "",  # the layer's own float dtype
    "index": "float64",
}


def _extremes(x: np.ndarray) -> tuple[float, float]:
    """Minimum and maximum ignoring NaN (NaN, NaN for an all-NaN or empty block)."""
    if x.size == 0:
        return np.nan, np.nan
    return float(np.fmin.reduce(x, axis=None)), float(np.fmax.reduce(x, axis=None))


def _clean(x: np.ndarray, lo: float, hi: float) -> bool:
    """No cell of ``x`` outside ``[lo, hi]`` (NaN cells are no data, not outside)."""
    mn, mx = _extremes(x)
    return not (mn < lo or mx > hi)


def _outside(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray((x < lo) | (x > hi))


def _fill(identity: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A read-only block of ``identity``: one row, repeated with a zero stride.

    Costs one row of memory; a reduction over it runs contiguous (vectorised) along
    the row, ten times faster than over a single broadcast value.
    """
    row = np.full((1,) * (len(shape) - 1) + shape[-1:], identity, dtype=dtype)
    return np.broadcast_to(row, shape)


def _stat_block(
    x: np.ndarray,
    *,
    stat: str,
    lo: float,
    hi: float,
    sentinels: np.ndarray,
    huge: float,
    width: int,
    out_dtype: Any,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """One statistic of one block, per cell (see :data:`STATS`)."""
    if stat == "zero":
        mn, mx = _extremes(x)
        if not (mn <= 0.0 <= mx):
            return _fill(False, x.shape, bool)
        return np.asarray(x == 0)
    identity = np.nan if stat in ("value", "index") else False
    if _clean(x, lo, hi):
        return _fill(identity, x.shape, out_dtype)
    bad = _outside(x, lo, hi)
    if stat == "outside":
        return bad
    if stat == "sentinel":
        out = np.zeros(x.shape, bool)
        v = x[bad]
        out[bad] = np.isin(v, sentinels) | (np.abs(v) >= huge)
        return out
    if stat == "value":
        return np.where(bad, x, np.nan).astype(out_dtype, copy=False)
    # "index": the flat index of the cell on the whole grid the layer was opened on
    (r0, _), (c0, _) = (block_info or {0: {"array-location": [(0, 0), (0, 0)]}})[0][
        "array-location"
    ]
    rows, cols = np.nonzero(bad)
    out = np.full(x.shape, np.nan)
    out[rows, cols] = (rows + r0).astype("float64") * width + (cols + c0)
    return out


def cell_layer(
    data: dsa.Array,
    stat: str,
    *,
    lo: float,
    hi: float,
    sentinels: Sequence[float] = (),
    huge: float = np.inf,
) -> dsa.Array:
    """A lazy per-cell layer of one statistic of the range check, chunked like ``data``.

    Parameters
    ----------
    data : dask.array.Array
        The 2-D layer (float, NaN = no data).
    stat : {"outside", "sentinel", "zero", "value", "index"}
        ``outside``: True where the value is outside ``[lo, hi]``; ``sentinel``: True
        where it is outside and one of ``sentinels`` or ``|value| >= huge``; ``zero``:
        True where it is exactly 0; ``value``: the value where outside, else NaN;
        ``index``: the flat cell index (row × width + col) where outside, else NaN.
    lo, hi : float
        The plausible range, inclusive.
    sentinels : sequence of float
    huge : float

    Examples
    --------
    >>> import dask.array as dsa, numpy as np
    >>> x = dsa.from_array(np.array([[-999.0, 0.0], [50.0, 5e9]]), chunks=1)
    >>> [
    ...     int(cell_layer(x, s, lo=0, hi=800, sentinels=[-999]).sum())
    ...     for s in ("outside", "sentinel", "zero")
    ... ]
    [2, 1, 1]
    >>> float(dsa.nanmax(cell_layer(x, "index", lo=0, hi=800)).compute())
    3.0
    """
    own = data.dtype if data.dtype.kind == "f" else np.dtype("float64")
    dtype = np.dtype(STATS[stat] or own)
    return dsa.map_blocks(
        _stat_block,
        data,
        dtype=dtype,
        stat=stat,
        lo=float(lo),
        hi=float(hi),
        sentinels=np.asarray(sentinels, dtype="float64"),
        huge=float(huge),
        width=int(data.shape[1]),
        out_dtype=dtype,
        meta=np.empty((0, 0), dtype),
    )


def _kept_block(x: np.ndarray, *, lo: float, hi: float) -> np.ndarray:
    if _clean(x, lo, hi):
        return x
    return np.where(_outside(x, lo, hi), np.nan, x).astype(x.dtype, copy=False)


def kept_layer(data: dsa.Array, *, lo: float, hi: float) -> dsa.Array:
    """``data`` with NaN where outside ``[lo, hi]``; a clean block is passed on uncopied."""
    if data.dtype.kind != "f":  # NaN needs a float (soilmap opens layers as float32)
        data = data.astype("float64")
    return dsa.map_blocks(
        _kept_block, data, dtype=data.dtype, lo=float(lo), hi=float(hi), meta=data._meta
    )


def _zero_block(stock: np.ndarray, shares: list[np.ndarray], *, group: int) -> np.ndarray:
    # ``shares``: the blocks along the group axis (not concatenated: no copy).
    for block in shares:
        if group < block.shape[0]:
            share = block[group]
            break
        group -= block.shape[0]
    mn, mx = _extremes(stock)
    if not (mn <= 0.0 <= mx):
        return _fill(0.0, share.shape, share.dtype)
    return np.where(stock == 0, share, np.zeros((), share.dtype))


def zero_share(stock: dsa.Array, shares: dsa.Array, group: int) -> dsa.Array:
    """Group ``group``'s share of the cells whose stock is exactly 0, else 0 (``(y, x)``).

    ``shares`` is ``(group, y, x)``, ``stock`` ``(y, x)`` with the same spatial chunks.

    Examples
    --------
    >>> import dask.array as dsa, numpy as np
    >>> stock = dsa.from_array(np.array([[0.0, 5.0], [0.0, np.nan]]), chunks=1)
    >>> shares = dsa.from_array(
    ...     np.array([[[0.25, 1.0], [1.0, 1.0]], [[0.75, 0.0], [0.0, 0.0]]]), chunks=(1, 1, 1)
    ... )
    >>> [float(zero_share(stock, shares, g).sum()) for g in (0, 1)]
    [1.25, 0.75]
    """
    return dsa.blockwise(
        _zero_block,
        "yx",
        stock,
        "yx",
        shares,
        "gyx",
        concatenate=False,
        group=int(group),
        dtype=shares.dtype,
        meta=np.empty((0, 0), shares.dtype),
    )
