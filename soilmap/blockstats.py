"""Per-chunk statistics: one short vector per chunk of a grid, combined window by window.

A run's checks (the range check of every SOC input, the exact zeros per land-use
group, the likely organic soils) need a handful of counts, minima and maxima over
every cell.  Built as per-cell layers, each statistic costs its own full-block
temporaries and its own reduction tasks per chunk: a tenth of a run.  A
:class:`BlockStats` instead holds one dask task per chunk that computes all of a
layer's statistics at once, in one pass over the block (and nearly nothing on a
clean block), and returns them as a vector; the engine
(:func:`soilmap.pipeline.execute.execute`) takes the chunks of each of its
chunk-aligned windows with the outputs, in the same read, and combines the vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import dask.array as dsa
import numpy as np

__all__ = ["BlockStats", "Op", "block_stats", "combine"]

#: How a statistic's values combine over chunks and windows.
Op = Literal["sum", "min", "max"]

_REDUCE: dict[str, Callable[[np.ndarray], Any]] = {
    "sum": np.sum,
    "min": np.fmin.reduce,
    "max": np.fmax.reduce,
}
_COMBINE: dict[str, Callable[[Any, Any], Any]] = {"sum": np.add, "min": np.fmin, "max": np.fmax}


def combine(op: Op, a: Any, b: Any) -> Any:
    """Two partial values of one statistic combined (NaN-ignoring for min and max)."""
    return _COMBINE[op](a, b)


@dataclass(frozen=True)
class BlockStats:
    """Statistics of a layer, one float64 vector per chunk of its grid.

    Attributes
    ----------
    data : dask.array.Array
        ``(chunk rows, chunk columns, len(keys))``, chunked ``(1, 1, len(keys))``.
    keys : tuple of str
        The statistic of each position of the vector (the run's reduction keys).
    ops : tuple of {"sum", "min", "max"}
        How each statistic combines over chunks.
    cell_chunks : ((int, ...), (int, ...))
        Row and column chunks of the cell grid the statistics were taken on: a
        window of whole chunks of it maps to a block of :attr:`data`.
    integer : frozenset of str
        Keys that are counts (reported as ``int``).
    """

    data: dsa.Array
    keys: tuple[str, ...]
    ops: tuple[Op, ...]
    cell_chunks: tuple[tuple[int, ...], tuple[int, ...]]
    integer: frozenset[str] = field(default_factory=frozenset)

    def blocks(self, row0: int, row1: int, col0: int, col1: int) -> dsa.Array:
        """The vectors of the chunks of a chunk-aligned cell window.

        Raises
        ------
        ValueError
            If the window's edges are not chunk edges of :attr:`cell_chunks`.
        """
        rows = np.cumsum((0, *self.cell_chunks[0]))
        cols = np.cumsum((0, *self.cell_chunks[1]))
        i0, i1 = np.searchsorted(rows, (row0, row1))
        j0, j1 = np.searchsorted(cols, (col0, col1))
        if not (
            rows[min(i0, len(rows) - 1)] == row0
            and rows[min(i1, len(rows) - 1)] == row1
            and cols[min(j0, len(cols) - 1)] == col0
            and cols[min(j1, len(cols) - 1)] == col1
        ):
            raise ValueError(
                f"window rows {row0}-{row1}, columns {col0}-{col1} do not fall on the chunk "
                f"edges of the statistics of {', '.join(self.keys[:2])}..."
            )
        return self.data[i0:i1, j0:j1]

    def reduce(self, blocks: np.ndarray) -> dict[str, Any]:
        """Each statistic over computed ``blocks`` (``(rows, cols, len(keys))``)."""
        flat = np.asarray(blocks).reshape(-1, len(self.keys))
        return {
            k: _REDUCE[op](flat[:, i]) if flat.shape[0] else _identity(op)
            for i, (k, op) in enumerate(zip(self.keys, self.ops, strict=True))
        }


def _identity(op: Op) -> float:
    return 0.0 if op == "sum" else np.nan


def block_stats(
    kernel: Callable[..., np.ndarray],
    *args: Any,
    keys: Sequence[str],
    ops: Sequence[Op],
    cell_chunks: tuple[tuple[int, ...], tuple[int, ...]],
    integer: Sequence[str] = (),
    origin: tuple[int, int] | None = None,
    **kwargs: Any,
) -> BlockStats:
    """A :class:`BlockStats` from a kernel over the blocks of ``args``.

    Parameters
    ----------
    kernel : callable
        ``kernel(*blocks, **kwargs)`` gives the 1-D float vector (``len(keys)``) of
        one chunk.  Its blocks are those of ``args``: pairs of a dask array and its
        index string as :func:`dask.array.blockwise` takes them, the cell axes
        named ``"y"`` and ``"x"``.  An array with a further axis (``"gyx"``) comes
        as the list of its blocks along that axis, not concatenated (no copy).
    *args
        ``array, index, array, index, ...``
    keys, ops : sequence
        The statistics of the vector and how they combine.
    cell_chunks : ((int, ...), (int, ...))
        Row and column chunks of the arrays' cell grid.
    integer : sequence of str
        Keys that are counts.
    origin : (int, int), optional
        Also pass the kernel ``origin=(row, col)``: the first cell of its chunk, on a
        grid whose cell ``origin`` is the arrays' first cell (a cropped layer keeps
        the whole grid's cell numbers).
    **kwargs
        Passed to ``kernel``.

    Examples
    --------
    >>> import dask.array as dsa, numpy as np
    >>> x = dsa.from_array(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), chunks=(1, 2))
    >>> bs = block_stats(
    ...     lambda b: np.array([b.sum(), b.max()]),
    ...     x,
    ...     "yx",
    ...     keys=("sum", "max"),
    ...     ops=("sum", "max"),
    ...     cell_chunks=x.chunks,
    ... )
    >>> {k: float(v) for k, v in bs.reduce(bs.blocks(0, 2, 0, 3).compute()).items()}
    {'sum': 21.0, 'max': 6.0}
    """
    n = len(keys)

    def one(*blocks: np.ndarray, **kw: Any) -> np.ndarray:
        if origin is not None:
            kw["origin"] = (int(blocks[0][0][0, 0, 0]), int(blocks[0][0][0, 0, 1]))
            blocks = blocks[1:]
        return np.asarray(kernel(*blocks, **kw), dtype="float64").reshape(1, 1, n)

    # The task names (dashboard, profiles) are the kernel's.
    one.__name__ = getattr(kernel, "__name__", "block_stats").lstrip("_")
    if origin is not None:
        rows = origin[0] + np.cumsum((0, *cell_chunks[0][:-1]))
        cols = origin[1] + np.cumsum((0, *cell_chunks[1][:-1]))
        grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).astype("int64")
        args = (dsa.from_array(grid, chunks=(1, 1, 2)), "yxo", *args)
    data = dsa.blockwise(
        one,
        "yxk",
        *args,
        new_axes={"k": n},
        adjust_chunks={"y": 1, "x": 1},
        concatenate=False,
        align_arrays=False,
        dtype="float64",
        meta=np.empty((0, 0, 0), "float64"),
        **kwargs,
    )
    return BlockStats(
        data=data,
        keys=tuple(keys),
        ops=tuple(ops),
        cell_chunks=(tuple(cell_chunks[0]), tuple(cell_chunks[1])),
        integer=frozenset(integer),
    )
