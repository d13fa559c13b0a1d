"""Reading a raster window by window, so that each block is fetched (and decoded) once.

The lazy pass reads an input through :class:`LazyBand` (the array behind the dask
array :func:`soilmap.io.raster.open_raster` returns); the pre-run plausibility sample
reads it through :func:`read_ahead`, which hands the cells it read to that same
:class:`LazyBand`: the pass then takes them from memory instead of reading their
blocks again (for a remote file, fetching them again).  What is kept is bounded by the
sample (at most ~1M cells per layer) and dropped as soon as the pass has taken it.

Every read goes through :func:`read_window`, inside soilmap's GDAL settings
(:func:`read_env`), and:

- for a remote GeoTIFF, sets (for that thread and that read) the options with which
  GDAL fetches exactly the window's blocks: one ``Range`` request per run of
  consecutive blocks, no chunk rounding, no read-ahead, and no decoding thread pool
  (it fills failed requests with zeros); see :mod:`soilmap.io.env` for why;
- reads a masked whole raster in two halves: GDAL's multi-threaded GeoTIFF reader
  (local files) bypasses its block cache for a read of the whole raster, so the
  nodata mask rasterio reads next would decode every block a second time.

Reuse is exact: the kept cells are the very values and mask of that read, so the pass
gives the same numbers as a fresh read of an unchanged file.  (A file replaced between
the sample and the pass, e.g. a remote object re-uploaded mid-run, would give the kept
cells its old values and the others its new ones; without reuse the pass would have
read only the new file.)  It is not done for a sample read at a coarser resolution (an
overview: other cells), nor across two :class:`LazyBand` of one file (only the newest
one opened is given the sample), and a sample window is kept grown to whole blocks
only within ``keep_cells`` (see :func:`read_ahead`): otherwise the blocks it cuts are
read again by the pass.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import MaskFlags, Resampling
from rasterio.windows import Window

from soilmap.io.env import gdal_env, thread_config
from soilmap.io.paths import is_network

__all__ = ["LazyBand", "read_ahead", "read_env", "read_window"]

#: (row0, row1, col0, col1), end-exclusive.
Box = tuple[int, int, int, int]


def _blocks(src: Any, band: int, box: Box) -> tuple[int, int]:
    """Number of block rows and block columns of ``src`` that ``box`` meets."""
    bh, bw = src.block_shapes[band - 1]
    r0, r1, c0, c1 = box
    return (r1 - 1) // bh - r0 // bh + 1, (c1 - 1) // bw - c0 // bw + 1


def _halves(src: Any, band: int, box: Box) -> tuple[Box, Box] | None:
    """``box`` cut in two along block edges (None for a single block)."""
    bh, bw = src.block_shapes[band - 1]
    r0, r1, c0, c1 = box
    n_rows, n_cols = _blocks(src, band, box)
    if n_rows > 1:
        cut = (r0 // bh + n_rows // 2) * bh
        return (r0, cut, c0, c1), (cut, r1, c0, c1)
    if n_cols > 1:
        cut = (c0 // bw + n_cols // 2) * bw
        return (r0, r1, c0, cut), (r0, r1, cut, c1)
    return None


def read_env(path: str, **extra: Any) -> rasterio.Env:
    """:func:`soilmap.io.env.gdal_env` to open ``path`` for reading its cells.

    A network file gets no decoding thread pool (``GDAL_NUM_THREADS=1``): with one,
    GDAL 3.10 fills the tiles of a failed request with zeros (see
    :mod:`soilmap.io.env`).
    """
    if is_network(path):
        extra = {"GDAL_NUM_THREADS": "1", **extra}
    return gdal_env(**extra)


def _one_run_of_bytes(src: Any, band: int, box: Box) -> bool:
    """Whether the blocks ``box`` meets are stored back to back (one byte range)."""
    bh, bw = src.block_shapes[band - 1]
    r0, r1, c0, c1 = box
    spans = []
    for i in range(r0 // bh, (r1 - 1) // bh + 1):
        for j in range(c0 // bw, (c1 - 1) // bw + 1):
            offset = src.get_tag_item(f"BLOCK_OFFSET_{j}_{i}", "TIFF", bidx=band)
            size = src.get_tag_item(f"BLOCK_SIZE_{j}_{i}", "TIFF", bidx=band)
            if not offset or not size or int(offset) <= 0:  # sparse, or unknown
                return False
            spans.append((int(offset), int(size)))
    spans.sort()
    return all(a + n == b for (a, n), (b, _) in pairwise(spans))


def _range_options(src: Any, band: int, box: Box) -> dict[str, str]:
    """Thread-local GDAL options that make a read of a remote GeoTIFF fetch exactly its
    blocks (see :mod:`soilmap.io.env`)."""
    if src.driver not in ("GTiff", "COG") or not is_network(src.name):
        return {}
    rows, cols = box[1] - box[0], box[3] - box[2]
    raw = rows * cols * np.dtype(src.dtypes[band - 1]).itemsize * src.count
    options = {"GDAL_MAX_RAW_BLOCK_CACHE_SIZE": str(max(10 << 20, 2 * raw + (1 << 20)))}
    # A mask band of its own (or an alpha band) is read too, in the same read: its
    # blocks need not be one run, so several blocks get SINGLE_GET only without one.
    own_mask = not set(src.mask_flag_enums[band - 1]) <= {MaskFlags.nodata, MaskFlags.all_valid}
    one_block = _blocks(src, band, box) == (1, 1)
    if one_block or (not own_mask and _one_run_of_bytes(src, band, box)):
        options["GDAL_HTTP_MULTIRANGE"] = "SINGLE_GET"
    return options


def read_window(
    src: Any,
    band: int,
    box: Box,
    *,
    masked: bool,
    out_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read rows ``r0:r1`` and columns ``c0:c1`` of one band, fetching each block once.

    Call it inside :func:`read_env` (the dataset ``src`` opened there too).  Returns
    what ``src.read(band, window=..., masked=masked)`` returns (a masked array when
    ``masked``); with ``out_shape``, a nearest-neighbour read at that shape (GDAL reads
    an overview when one fits).
    """
    r0, r1, c0, c1 = box
    window = Window(c0, r0, c1 - c0, r1 - r0)
    if out_shape is not None and out_shape != (r1 - r0, c1 - c0):
        return src.read(
            band, window=window, out_shape=out_shape, masked=masked, resampling=Resampling.nearest
        )
    if masked and box == (0, src.height, 0, src.width):
        halves = _halves(src, band, box)
        if halves is not None:  # see the module docstring: the mask would re-read it
            a, b = (read_window(src, band, h, masked=True) for h in halves)
            return np.ma.concatenate([a, b], axis=0 if a.shape[1] == b.shape[1] else 1)
    with thread_config(**_range_options(src, band, box)):
        return src.read(band, window=window, masked=masked)


@dataclass
class _Piece:
    """Cells read ahead of the pass (by the plausibility sample), until the pass takes them."""

    box: Box
    data: np.ndarray  # the file's dtype
    mask: np.ndarray | None  # True where not data; None: all valid
    left: int  # cells the pass has not taken yet


def _split(data: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Values and mask (None if all valid) of what :func:`read_window` returned."""
    if isinstance(data, np.ma.MaskedArray):
        mask = np.ma.getmask(data)
        return np.ma.getdata(data), (None if mask is np.ma.nomask else np.asarray(mask))
    return np.asarray(data), None


def _clip(a: Box, b: Box) -> Box | None:
    r0, r1 = max(a[0], b[0]), min(a[1], b[1])
    c0, c1 = max(a[2], b[2]), min(a[3], b[3])
    return (r0, r1, c0, c1) if r0 < r1 and c0 < c1 else None


def uncovered(box: Box, covered: list[Box]) -> list[Box]:
    """Rectangles that tile the part of ``box`` outside every rectangle of ``covered``.

    ``covered`` must lie inside ``box``.  Cut along every edge, then merge: the cells
    left in each band of rows into runs, and equal runs of consecutive bands.
    """
    ys = sorted({box[0], box[1], *(r for c in covered for r in c[:2])})
    xs = sorted({box[2], box[3], *(x for c in covered for x in c[2:])})
    out: list[Box] = []
    open_runs: dict[tuple[int, int], int] = {}  # (col0, col1) -> row0 of a run still open
    for y0, y1 in pairwise(ys):
        runs: list[tuple[int, int]] = []
        for x0, x1 in pairwise(xs):
            if any(c[0] <= y0 and y1 <= c[1] and c[2] <= x0 and x1 <= c[3] for c in covered):
                continue
            if runs and runs[-1][1] == x0:
                runs[-1] = (runs[-1][0], x1)
            else:
                runs.append((x0, x1))
        for run in [r for r in open_runs if r not in runs]:
            out.append((open_runs.pop(run), y0, *run))
        for run in runs:
            open_runs.setdefault(run, y0)
    out += [(row0, box[1], *run) for run, row0 in open_runs.items()]
    return out


#: The newest LazyBand of each (GDAL path, band): the one read_ahead hands cells to.
_NEWEST: dict[tuple[str, int], weakref.ref[LazyBand]] = {}
_NEWEST_LOCK = threading.Lock()


class LazyBand:
    """One band of a raster as an array ``(y, x)`` read window by window.

    The array behind :func:`dask.array.from_array`: each task reads its window through
    :func:`read_window` on a dataset handle of its own thread, opened and read inside
    soilmap's GDAL settings; cells :func:`read_ahead` kept are taken from memory.
    Values are those of ``rioxarray.open_rasterio(..., masked=masked)``: with
    ``masked``, ``dtype`` (the file's, promoted to float) and ``fill_value`` (NaN)
    where the file's mask says no data.

    Parameters
    ----------
    path : str
        What GDAL opens (:func:`soilmap.io.paths.gdal_path`).
    band : int
        1-based band.
    masked : bool
    shape, block_shape : (int, int)
        Raster and internal block shape.
    file_dtype, dtype : numpy.dtype
        Stored dtype, and dtype of the values returned.
    fill_value : float or None
        Value of masked cells (with ``masked``).
    """

    ndim = 2

    def __init__(
        self,
        path: str,
        band: int,
        *,
        masked: bool,
        shape: tuple[int, int],
        block_shape: tuple[int, int],
        file_dtype: np.dtype,
        dtype: np.dtype,
        fill_value: Any = None,
    ) -> None:
        self.path, self.band, self.masked = path, band, masked
        self.shape, self.block_shape = shape, (max(1, block_shape[0]), max(1, block_shape[1]))
        self.file_dtype, self.dtype = np.dtype(file_dtype), np.dtype(dtype)
        self.fill_value = fill_value
        self._init_state()
        with _NEWEST_LOCK:
            for key in [k for k, ref in _NEWEST.items() if ref() is None]:
                del _NEWEST[key]
            _NEWEST[(path, band)] = weakref.ref(self)

    def _init_state(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pieces: list[_Piece] = []

    def __getstate__(self) -> dict[str, Any]:
        # Another process reads for itself: no handles, no kept cells.
        return {k: v for k, v in self.__dict__.items() if k not in ("_local", "_lock", "_pieces")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_state()

    def _dataset(self) -> Any:
        src = getattr(self._local, "src", None)
        if src is None:
            with read_env(self.path):
                src = self._local.src = rasterio.open(self.path, sharing=False)
        return src

    def _read(self, box: Box, *, masked: bool) -> tuple[np.ndarray, np.ndarray | None]:
        with read_env(self.path):
            return _split(read_window(self._dataset(), self.band, box, masked=masked))

    def _take(self, box: Box) -> list[tuple[Box, _Piece]]:
        """Kept pieces meeting ``box`` (their part in it), counted as taken."""
        with self._lock:
            out = []
            for piece in self._pieces:
                part = _clip(box, piece.box)
                if part is not None:
                    out.append((part, piece))
                    piece.left -= (part[1] - part[0]) * (part[3] - part[2])
            self._pieces = [p for p in self._pieces if p.left > 0]
        return out

    def raw(self, box: Box, *, masked: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Stored values and mask (None: all valid) of ``box``, kept cells first."""
        taken = self._take(box) if self._pieces else []
        if not taken:
            return self._read(box, masked=masked)
        r0, r1, c0, c1 = box
        data = np.empty((r1 - r0, c1 - c0), self.file_dtype)
        mask = np.zeros(data.shape, bool) if masked else None
        parts = [(part, p.box, p.data, p.mask) for part, p in taken]
        rest = uncovered(box, [part for part, _ in taken])
        parts += [(b, b, *self._read(b, masked=masked)) for b in rest]
        for (a0, a1, b0, b1), (p0, _, q0, _), pdata, pmask in parts:
            dst = (slice(a0 - r0, a1 - r0), slice(b0 - c0, b1 - c0))
            src = (slice(a0 - p0, a1 - p0), slice(b0 - q0, b1 - q0))
            data[dst] = pdata[src]
            if mask is not None and pmask is not None:
                mask[dst] = pmask[src]
        return data, mask

    def whole_blocks(self, box: Box) -> Box:
        """``box`` grown to the edges of the file's blocks (within the raster)."""
        (bh, bw), (h, w) = self.block_shape, self.shape
        r0, r1, c0, c1 = box
        return (r0 // bh * bh, min(h, -(-r1 // bh) * bh), c0 // bw * bw, min(w, -(-c1 // bw) * bw))

    def keep(self, box: Box, data: np.ndarray, mask: np.ndarray | None) -> None:
        """Hold cells read ahead of the pass until the pass takes them."""
        with self._lock:
            self._pieces.append(_Piece(box, data, mask, data.size))

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        key = key + (slice(None),) * (2 - len(key))
        box: list[int] = []
        picks: list[Any] = []
        for k, size in zip(key, self.shape, strict=True):
            if isinstance(k, slice):
                start, stop, step = k.indices(size)
                box += [start, max(start, stop)]
                picks.append(slice(None, None, step))
            elif np.ndim(k) == 0:
                box += [int(k), int(k) + 1]
                picks.append(0)
            else:
                idx = np.asarray(k)
                box += [int(idx.min()), int(idx.max()) + 1]
                picks.append(idx - idx.min())
        r0, r1, c0, c1 = box
        if r0 == r1 or c0 == c1:
            return np.zeros((r1 - r0, c1 - c0), self.dtype)[tuple(picks)]
        data, mask = self.raw((r0, r1, c0, c1), masked=self.masked)
        out = data.astype(self.dtype, copy=False)
        if self.masked and mask is not None and mask.any():
            out = np.where(mask, self.fill_value, out).astype(self.dtype, copy=False)
        if all(isinstance(p, np.ndarray) for p in picks):
            return out[np.ix_(*picks)]
        return out[tuple(picks)]


def read_ahead(
    path: str,
    box: Box,
    *,
    band: int = 1,
    out_shape: tuple[int, int] | None = None,
    keep_cells: int = 0,
) -> tuple[np.ma.MaskedArray, int]:
    """Read a window now (masked), and hand its cells to the lazy pass over ``path``.

    The newest :class:`LazyBand` of ``path`` and ``band`` keeps them (see the module
    docstring); a read at another ``out_shape`` (an overview) is not kept.  What is
    kept is ``box`` grown to whole blocks when that holds at most ``keep_cells``
    cells: the pass reads whole chunks, and a block partly kept would be read again
    for its other part (for a remote file, fetched again).

    Returns
    -------
    numpy.ma.MaskedArray
        The cells of ``box`` (masked where not data).
    int
        Cells kept for the pass (0 if none).
    """
    ref = _NEWEST.get((path, band))
    lazy = ref() if ref is not None else None
    full = out_shape is None or out_shape == (box[1] - box[0], box[3] - box[2])
    if lazy is None or not full:
        with read_env(path), rasterio.open(path) as src:
            read = read_window(src, band, box, masked=True, out_shape=out_shape)
        return np.ma.asarray(read), 0
    big = lazy.whole_blocks(box)
    if (big[1] - big[0]) * (big[3] - big[2]) > max(keep_cells, 0):
        big = box
    data, mask = lazy.raw(big, masked=True)
    lazy.keep(big, data, mask)
    part = (slice(box[0] - big[0], box[1] - big[0]), slice(box[2] - big[2], box[3] - big[2]))
    values = np.ma.MaskedArray(data[part], mask=np.ma.nomask if mask is None else mask[part])
    return values, data.size
