"""A bounded sample of an input's cells, read once before a run for the unit checks.

Whole internal blocks spread evenly over the raster (or over the run's window), or an
overview when the file has one, so the sample costs a few reads whatever the size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import rasterio
import xarray as xr
from rasterio.errors import RasterioError
from rasterio.windows import Window

from soilmap.errors import InputError
from soilmap.io.blocks import read_ahead
from soilmap.io.env import gdal_env
from soilmap.io.paths import gdal_path
from soilmap.soc.cleaning import Rule

__all__ = ["DEFAULT_SAMPLE_CELLS", "SamplePlan", "plan_sample", "read_sample", "sample_layers"]

#: Cells read per check, all layers together (4 MiB as float32).
DEFAULT_SAMPLE_CELLS = 1 << 20


@dataclass(frozen=True)
class SamplePlan:
    """Windows to read (and the shape to read each one at) for a bounded sample.

    Attributes
    ----------
    windows : tuple of rasterio.windows.Window
    out_shapes : tuple of (int, int)
        Shape each window is read at; smaller than the window on an overview read.
    description : str
        E.g. ``"whole raster"``, ``"overview 1/4"``, ``"22 of 111 blocks (7x534)"``.
    """

    windows: tuple[Window, ...]
    out_shapes: tuple[tuple[int, int], ...]
    description: str

    @property
    def cells(self) -> int:
        """Number of cells the plan reads per layer."""
        return sum(h * w for h, w in self.out_shapes)


def _spread(n_items: int, n_pick: int) -> list[int]:
    """``n_pick`` indices evenly spread over ``range(n_items)`` (centres of equal parts)."""
    n_pick = max(1, min(n_items, n_pick))
    return sorted({int((i + 0.5) * n_items / n_pick) for i in range(n_pick)})


def plan_sample(
    paths: Sequence[str | os.PathLike],
    *,
    max_cells: int = DEFAULT_SAMPLE_CELLS,
    window: tuple[int, int, int, int] | None = None,
) -> SamplePlan:
    """:func:`plan_whole_sample`, or the same inside ``window`` (row0, row1, col0, col1):
    a run on part of a raster samples only that part (no overviews, which span it all)."""
    if window is None:
        return plan_whole_sample(paths, max_cells=max_cells)
    r0, r1, c0, c1 = window
    if (r1 - r0) * (c1 - c0) <= max_cells:
        return SamplePlan(
            (Window(c0, r0, c1 - c0, r1 - r0),), ((r1 - r0, c1 - c0),), "the run's window"
        )
    with gdal_env(), rasterio.open(gdal_path(paths[0])) as src:
        bh, bw = src.block_shapes[0]
    # Whole blocks of the file that lie in the window, evenly spread over it.
    rows = list(range(r0 // bh, (r1 - 1) // bh + 1))
    cols = list(range(c0 // bw, (c1 - 1) // bw + 1))
    n = max(1, max_cells // (bh * bw))
    k_rows = max(1, min(len(rows), math.isqrt(n)))
    k_cols = max(1, min(len(cols), n // k_rows))
    windows = []
    for i in _spread(len(rows), k_rows):
        for j in _spread(len(cols), k_cols):
            y0, x0 = max(r0, rows[i] * bh), max(c0, cols[j] * bw)
            y1, x1 = min(r1, (rows[i] + 1) * bh), min(c1, (cols[j] + 1) * bw)
            windows.append(Window(x0, y0, x1 - x0, y1 - y0))
    what = f"{len(windows)} blocks ({bh}x{bw}) of the run's window"
    return SamplePlan(tuple(windows), tuple((int(w.height), int(w.width)) for w in windows), what)


def plan_whole_sample(
    paths: Sequence[str | os.PathLike], *, max_cells: int = DEFAULT_SAMPLE_CELLS
) -> SamplePlan:
    """Plan a sample of at most ``max_cells`` cells, read at the same places in every file.

    Small rasters are read whole.  If every file has an overview level small enough, the
    whole extent is read at that level (GDAL reads only the overview).  Otherwise whole
    internal blocks (tiles or strips) of the first file, evenly spread over the raster,
    are read, so no block is decoded for nothing and the full raster is never read.

    Parameters
    ----------
    paths : sequence of path-like
        Rasters on one grid; the first sets the block layout.
    max_cells : int
        Cells per file.
    """
    with gdal_env(), rasterio.open(gdal_path(paths[0])) as src:
        height, width = src.height, src.width
        block_h, block_w = src.block_shapes[0]
        factors = list(src.overviews(1))
    if height * width <= max_cells:
        return SamplePlan((Window(0, 0, width, height),), ((height, width),), "whole raster")
    for others in paths[1:]:
        with gdal_env(), rasterio.open(gdal_path(others)) as src:
            factors = [f for f in factors if f in src.overviews(1)]
    for f in sorted(factors):
        shape = (math.ceil(height / f), math.ceil(width / f))
        if shape[0] * shape[1] <= max_cells:
            return SamplePlan((Window(0, 0, width, height),), (shape,), f"overview 1/{f}")
    if block_w >= width:  # strips: spread whole strips over the height
        cols = min(width, max(1, max_cells // block_h))
        col0 = (width - cols) // 2
        n_strips = math.ceil(height / block_h)
        picks = _spread(n_strips, max_cells // (block_h * cols))
        windows = [
            Window(col0, i * block_h, cols, min(block_h, height - i * block_h)) for i in picks
        ]
        what = f"{len(picks)} of {n_strips} strips ({block_h}x{width})"
    else:
        n_by, n_bx = math.ceil(height / block_h), math.ceil(width / block_w)
        n = max(1, max_cells // (block_h * block_w))
        k_rows = max(1, min(n_by, math.isqrt(n)))
        k_cols = max(1, min(n_bx, n // k_rows))
        windows = [
            Window(
                j * block_w,
                i * block_h,
                min(block_w, width - j * block_w),
                min(block_h, height - i * block_h),
            )
            for i in _spread(n_by, k_rows)
            for j in _spread(n_bx, k_cols)
        ]
        what = f"{len(windows)} of {n_by * n_bx} blocks ({block_h}x{block_w})"
    return SamplePlan(tuple(windows), tuple((int(w.height), int(w.width)) for w in windows), what)


def read_sample(path: str | os.PathLike, plan: SamplePlan, *, band: int = 1) -> np.ndarray:
    """Read a planned sample eagerly: 1-D float32, NaN where the file declares nodata.

    Bounded by ``plan.cells``, outside dask.  The cells read (at full resolution) are
    handed to the lazy layer opened on ``path``, whose pass takes them from memory
    instead of reading their blocks again (:func:`soilmap.io.blocks.read_ahead`).
    """
    parts = []
    # Kept for the pass: the sample's blocks, whole, up to this many cells in all.
    keep = max(DEFAULT_SAMPLE_CELLS, plan.cells)
    try:
        for window, shape in zip(plan.windows, plan.out_shapes, strict=True):
            r0, c0 = int(window.row_off), int(window.col_off)
            box = (r0, r0 + int(window.height), c0, c0 + int(window.width))
            a, kept = read_ahead(gdal_path(path), box, band=band, out_shape=shape, keep_cells=keep)
            keep -= kept
            parts.append(np.ma.filled(a.astype("float32"), np.nan).ravel())
    except RasterioError as exc:
        raise InputError(
            f"{path}: reading a sample of the raster failed ({exc}). The file is probably "
            "truncated or corrupted: re-download or re-export it."
        ) from exc
    return np.concatenate(parts)


def sample_layers(
    paths: Sequence[str | os.PathLike],
    *,
    units: Sequence[str],
    rules: Sequence[Sequence[Rule]] | None = None,
    scales: Sequence[float] | None = None,
    max_cells: int = DEFAULT_SAMPLE_CELLS,
    window: tuple[int, int, int, int] | None = None,
) -> tuple[list[np.ndarray], str]:
    """Sample layers of one grid at the same places, without their sentinel values.

    Only sentinel rules are applied: a range rule in the wrong unit would remove every
    value and hide the very mistake the sample is meant to show (1300 "g cm-3" is
    above 2.65 g cm-3 everywhere).

    Parameters
    ----------
    paths : sequence of path-like
    units : sequence of str
        Stored units of each layer (range rules may be given in other units).
    rules : sequence of sequences of Rule, optional
        Cleaning rules per layer; their sentinels are removed from the sample.
    scales : sequence of float, optional
        Factor per layer applied after cleaning (product scale factors).
    max_cells : int
        Cells for all layers together (at least 4096 per layer).
    window : tuple of int, optional
        Only cells of rows ``row0:row1`` and columns ``col0:col1`` (the run's window).

    Returns
    -------
    list of numpy.ndarray
        One 1-D float array per layer, NaN where not data.
    str
        How the sample was taken.
    """
    plan = plan_sample(paths, max_cells=max(4096, max_cells // len(paths)), window=window)
    out = []
    for i, path in enumerate(paths):
        raw = read_sample(path, plan).astype("float64")
        sentinels = [r for r in (rules[i] if rules is not None else ()) if r.kind == "sentinel"]
        if sentinels:
            da = xr.DataArray(raw, dims="cell", attrs={"units": units[i]})
            for rule in sentinels:
                raw = np.where(rule.removes(da).to_numpy(), np.nan, raw)
        out.append(raw * (scales[i] if scales is not None else 1.0))
    return out, plan.description


# ------------------------------------------------------------------------------ checks
