"""Execute a result folder's computation: window by window, within a disk and memory budget.

:func:`execute` is the one engine behind ``soilmap run`` and ``soilmap gsocseq``: it
creates the scratch file of every raster, checks the disk, computes every raster
block, the zonal partial sums, the style ranges and any other reduction a window at
a time (each input block read once), and turns the scratch files into COGs.  Where
the graph runs (threads, a local cluster, a remote scheduler) is the caller's
:class:`~soilmap.pipeline.cluster.Compute`.
"""

from __future__ import annotations

import itertools
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

from soilmap.blockstats import BlockStats, Op, combine
from soilmap.errors import InputError
from soilmap.io.staging import OutputStage
from soilmap.options import Codec, get_options
from soilmap.outputs.cog import ScratchRaster
from soilmap.outputs.stretch import EDGES, percentiles
from soilmap.outputs.write import RasterOutput, create_targets
from soilmap.pipeline.cluster import Compute, chunk_cells_for_memory, parse_memory
from soilmap.pipeline.faults import check_disk_space, faults_translated
from soilmap.pipeline.finishing import CogFinishing
from soilmap.pipeline.journal import Journal, Partials
from soilmap.progress import Progress, Reporter, reporter
from soilmap.zonal.sums import ZonalSums

__all__ = [
    "Executed",
    "Reduction",
    "Window",
    "chunk_budget",
    "execute",
    "windows",
]

#: ``(row0, row1, col0, col1)`` of a chunk-aligned window of the reference grid.
Window = tuple[int, int, int, int]
#: A per-cell layer and how its windows combine into one number.
Reduction = tuple[xr.DataArray, Literal["sum", "min", "max"]]


@dataclass
class Executed:
    """What :func:`execute` computed and wrote into the staging folder.

    Attributes
    ----------
    written : dict of str to pathlib.Path
        The COG of every raster, by stem.
    ranges : dict of str to (float, float)
        Minimum and maximum of every raster whose style needs them (NaN if empty).
    zonal : ZonalSums or None
        The zonal sums over every window.
    stretches : dict of str to (float, float)
        2nd and 98th percentile of the same rasters, from a fixed-bin histogram
        gathered in the pass (see :mod:`soilmap.outputs.stretch`).
    reduced : dict of str to int or float
        Every :data:`Reduction` and :class:`~soilmap.blockstats.BlockStats`
        statistic, over the whole grid.
    timings_s : dict of str to float
        ``compute_windows`` and ``cog_finish``.
    """

    written: dict[str, Path]
    ranges: dict[str, tuple[float, float]]
    zonal: ZonalSums | None
    reduced: dict[str, Any]
    timings_s: dict[str, float]
    stretches: dict[str, tuple[float, float]] = field(default_factory=dict)


def windows(chunks: Sequence[Sequence[int]], per_window: int) -> list[Window]:
    """Chunk-aligned windows ``(row0, row1, col0, col1)`` of about ``per_window`` chunks.

    Counted in cells: a window holds about ``per_window`` full chunks' worth.  It is a
    band of chunk rows (several, where whole rows hold less than that) cut into
    column groups of about equal width.  The smaller chunks at the edges of a cropped
    extent thus fill a window by their size: a national run is not cut into windows
    of one small chunk that leave a core idle.
    """
    rows, cols = [int(n) for n in chunks[0]], [int(n) for n in chunks[1]]
    ys = np.cumsum((0, *rows))
    xs = np.cumsum((0, *cols))
    budget = max(1, per_window) * max(rows) * max(cols)
    width = int(xs[-1])
    out = []
    i = 0
    while i < len(rows):
        i1 = i + 1
        while i1 < len(rows) and int(ys[i1 + 1] - ys[i]) * width <= budget:
            i1 += 1
        groups = min(len(cols), max(1, math.ceil(int(ys[i1] - ys[i]) * width / budget)))
        # the chunk edges nearest to equal widths (never an empty group)
        cuts = sorted(
            {
                0,
                len(cols),
                *(int(np.abs(xs - width * k / groups).argmin()) for k in range(1, groups)),
            }
        )
        for a, b in itertools.pairwise(cuts):
            out.append((int(ys[i]), int(ys[i1]), int(xs[a]), int(xs[b])))
        i = i1
    return out


def chunk_budget(
    chunks: tuple[int, int] | int | None,
    *,
    memory_limit: str | None,
    workers: int | None,
    layers: int,
) -> tuple[int, int] | int:
    """Cells per chunk: the given chunks, else sized to a memory ceiling, else the default.

    Parameters
    ----------
    chunks : (int, int) or int, optional
        Chunks the user asked for; returned as they are.
    memory_limit : str, optional
        Memory ceiling (``"4GB"``), per worker with ``workers``.
    workers : int, optional
        Local worker processes sharing the ceiling and the cores.
    layers : int
        Float layers a chunk holds in flight (inputs, intermediates, outputs).
    """
    if chunks is not None:
        return chunks
    if not memory_limit:
        return int(get_options()["run_chunk_cells"])
    threads = os.cpu_count() or 1
    budget = parse_memory(memory_limit)
    if workers:
        budget //= workers
        threads = max(1, threads // workers)
    # A window keeps two chunks per thread in flight.
    return chunk_cells_for_memory(budget, layers=layers, threads=2 * threads)


@dataclass
class _Pass:
    """What every window of a run computes, and where (see :func:`_compute_windows`)."""

    rasters: Mapping[str, RasterOutput]
    targets: Mapping[str, ScratchRaster]
    zonal: Callable[[Window], Any] | None
    reductions: Mapping[str, Reduction]
    stats: Sequence[BlockStats]
    compute: Compute
    stage: OutputStage

    @property
    def ranged(self) -> list[str]:
        """Rasters whose style needs their range (and percentile stretch)."""
        return [s for s, r in self.rasters.items() if r.style.needs_range]

    def ops(self) -> dict[str, Op]:
        """How each reduction and statistic combines over windows."""
        ops = {k: op for k, (_, op) in self.reductions.items()}
        ops.update({k: op for bs in self.stats for k, op in zip(bs.keys, bs.ops, strict=True)})
        return ops

    def window(self, window: Window) -> tuple:
        """Store one window's raster blocks; its ranges, zonal sums and reductions."""
        r0, r1, c0, c1 = window
        sel = {"y": slice(r0, r1), "x": slice(c0, c1)}
        lock = self.compute.lock
        stores = [
            t.store(
                self.rasters[s].layer.isel(sel),
                r0,
                c0,
                lock=lock(f"soilmap-write-{self.stage.dir.name}-{s}"),
            )
            for s, t in self.targets.items()
        ]
        ranges = {
            s: (
                dsa.nanmin(self.rasters[s].layer.isel(sel).data),
                dsa.nanmax(self.rasters[s].layer.isel(sel).data),
                # Fixed bins, so the windows' histograms add up (percentile stretch).
                dsa.histogram(self.rasters[s].layer.isel(sel).data, bins=EDGES)[0],
            )
            for s in self.ranged
        }
        parts = {}
        for k, (da, op) in self.reductions.items():
            part = da.isel(sel)
            parts[k] = (part.sum() if op == "sum" else getattr(part, op)()).data
        blocks = [bs.blocks(r0, r1, c0, c1) for bs in self.stats]
        zonal_part = self.zonal(window) if self.zonal is not None else None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN", RuntimeWarning)
            _, r_v, z_v, p_v, b_v = self.compute.compute(
                stores, ranges, zonal_part, parts, blocks, progress=False
            )
        for bs, b in zip(self.stats, b_v, strict=True):
            p_v.update(bs.reduce(b))
        return r_v, z_v, p_v


def _compute_windows(
    work: _Pass,
    chunks: Sequence[Sequence[int]],
    report: Reporter,
    journal: Journal | None = None,
) -> tuple[ZonalSums | None, dict[str, tuple[float, float, np.ndarray]], dict[str, Any]]:
    """Compute every raster block, the zonal sums and the reductions window by window.

    A window is a few chunks (twice the threads): everything that depends on those
    chunks (raster blocks, zonal partial sums, style ranges, counts) is computed
    together and released before the next window, so memory is bounded by the
    window, not by the raster, and every input block is still read once.  Two
    windows are in flight at a time, so the cores stay busy while one window's last
    chunk finishes and the next window's graph is built.

    With a ``journal``, each finished window is recorded with the running totals,
    and the windows it already records are not computed again (``--resume``).
    """
    threads = os.cpu_count() or 1
    todo, start, totals = _resumed(windows(chunks, per_window=2 * threads), journal)
    ranged, ops = work.ranged, work.ops()
    counts = {k for bs in work.stats for k in bs.integer}
    one = work.window

    sums, lo, hi, hist, reduced = totals.sums, totals.lo, totals.hi, totals.hist, totals.reduced
    cells_total = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in todo)
    cells = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in todo[:start])
    scratch = [t.scratch for t in work.targets.values()]
    detail = _where(work.compute)
    # dask's threaded scheduler gives a pool of cores + 4 threads to a compute called
    # from a thread other than the main one: name the count, or 2 windows oversubscribe.
    with (
        dask.config.set(num_workers=threads),
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="soilmap-window") as pool,
    ):
        pending = [pool.submit(one, w) for w in todo[start : start + 2]]
        for n in range(start + 1, len(todo) + 1):
            r_v, z_v, p_v = pending.pop(0).result()
            if n + 1 < len(todo):
                pending.append(pool.submit(one, todo[n + 1]))
            if z_v is not None:
                sums = z_v if sums is None else sums.combine(z_v)
            for s, (a, b, h) in r_v.items():
                lo[s] = float(np.fmin(lo.get(s, np.nan), a))
                hi[s] = float(np.fmax(hi.get(s, np.nan), b))
                hist[s] = h if s not in hist else hist[s] + h
            for k, v in p_v.items():
                reduced[k] = v if k not in reduced else combine(ops[k], reduced[k], v)
            r0, r1, c0, c1 = todo[n - 1]
            cells += (r1 - r0) * (c1 - c0)
            report(
                "compute",
                n,
                len(todo),
                "windows",
                cells=cells,
                cells_total=cells_total,
                detail=detail if n == start + 1 else "",
            )
            if journal is not None:
                journal.record_window(n, Partials(sums, lo, hi, hist, reduced), flush=scratch)
    for k, v in reduced.items():
        v = np.asarray(v)
        reduced[k] = int(v) if v.dtype.kind in "biu" or k in counts else float(v)
    return sums, {s: (lo[s], hi[s], hist[s]) for s in ranged}, reduced


def _resumed(todo: list[Window], journal: Journal | None) -> tuple[list[Window], int, Partials]:
    """The windows, how many are done and their totals (a resumed run keeps its windows)."""
    if journal is None:
        return todo, 0, Partials()
    todo = journal.windows or todo
    journal.start(todo)
    return todo, journal.done, journal.partials()


def _where(compute: Compute) -> str:
    """Where the windows run, with the Dask dashboard (task progress) on a cluster."""
    if compute.client is None:
        return ""
    try:
        link = compute.client.dashboard_link
    except Exception:  # no dashboard (started without one)
        link = None
    return f"{compute.description}" + (f", task progress at {link}" if link else "")


def execute(
    rasters: Mapping[str, RasterOutput],
    *,
    stage: OutputStage,
    compute: Compute,
    chunks: Sequence[Sequence[int]],
    compress: Codec,
    zonal: Callable[[Window], Any] | None = None,
    reductions: Mapping[str, Reduction] | None = None,
    inputs: Sequence[Path] = (),
    progress: Progress | None = None,
    journal: Journal | None = None,
    stats: Sequence[BlockStats] = (),
    while_finishing: Callable[[Executed, Callable[[str], Path]], None] | None = None,
) -> Executed:
    """Compute and write every raster of a result folder, with the zonal sums, in one pass.

    Parameters
    ----------
    rasters : mapping of str to RasterOutput
        Rasters by file stem (``"p4/gain_2030"`` writes ``p4/gain_2030.tif``).
    stage : OutputStage
        The staging folder the COGs are written into.
    compute : Compute
        Where the graph runs.
    chunks : ((int, ...), (int, ...))
        Row and column chunks of the reference grid: windows are made of them.
    compress : {"deflate", "zstd", "lzw"}
        Raster codec.
    zonal : callable, optional
        ``zonal(window)`` gives the lazy :class:`~soilmap.zonal.sums.ZonalSums` of a
        window; they are combined over the windows.
    reductions : mapping of str to (xarray.DataArray, {"sum", "min", "max"}), optional
        Further numbers over the whole grid (cleaning counts, totals), from per-cell
        layers.
    stats : sequence of BlockStats, optional
        Further numbers over the whole grid from per-chunk statistics (the checks):
        one task per chunk for all of a layer's numbers.
    inputs : sequence of path
        The input files, named when a block cannot be decoded.
    progress : callable, optional
        Receives a :class:`~soilmap.progress.ProgressEvent` per window computed
        (stage ``compute``) and per COG finished (stage ``write``).
    journal : Journal, optional
        Record each finished window and COG in the staging folder; a journal that
        already records some (``--resume``) continues after them, reusing the
        scratch files and COGs they wrote.
    while_finishing : callable, optional
        ``while_finishing(executed, wait)``, called once every window is computed,
        while GDAL copies the scratch files into COGs in the background: what needs
        the pass's numbers but no COG (styles, tables, charts) is written meanwhile.
        ``executed`` holds everything but the timing of the copies; ``wait(stem)``
        gives a COG once it is written.  If it raises, the copies not started are
        cancelled and those in progress finished before the error goes on.

    Raises
    ------
    soilmap.errors.OutputSpaceError
        The scratch files cannot fit, or the disk fills up while writing.
    soilmap.errors.InputError
        An input block cannot be decoded (truncated or corrupted file).
    """
    report = reporter(progress)
    resuming = journal is not None and bool(journal.done or journal.cogs)
    targets = create_targets(stage, rasters, compress=compress, reuse=resuming)
    if not resuming:  # a resumed run's scratch files are on the disk already
        check_disk_space(stage.dir, targets)
    elif missing := [s for s, t in targets.items() if not t.reused]:
        raise InputError(
            f"staging folder {stage.dir} cannot be resumed: the scratch files of "
            f"{', '.join(missing)} are missing. Run again without --resume (that removes it)."
        )
    t0 = time.perf_counter()
    with faults_translated(stage, targets, inputs):
        work = _Pass(rasters, targets, zonal, reductions or {}, stats, compute, stage)
        sums, gathered, reduced = _compute_windows(work, chunks, report, journal)
    t_windows = time.perf_counter()
    ranges = {s: (a, b) for s, (a, b, _) in gathered.items()}
    stretches = {}
    for s, (a, b, h) in gathered.items():
        lo, hi = percentiles(h, a, b)  # the 2nd and 98th
        stretches[s] = (lo, hi)
    timings = {"compute_windows": t_windows - t0}
    with CogFinishing(targets, report, journal, stage=stage, inputs=inputs) as cogs:
        if while_finishing is not None:
            paths = {s: t.path for s, t in targets.items()}
            while_finishing(Executed(paths, ranges, sums, reduced, timings, stretches), cogs.wait)
        written = cogs.all()
    timings["cog_finish"] = time.perf_counter() - t_windows
    return Executed(written, ranges, sums, reduced, timings, stretches)
