"""A run's COG copies, in the background while the run writes what needs no COG.

Once every window is computed, GDAL copies each scratch file into its COG in a
background thread; the run meanwhile writes its styles, tables and the report's
charts (:func:`soilmap.pipeline.execute.execute`'s ``while_finishing``), and waits
for a COG only where it reads one.  The copy itself releases Python's interpreter;
building the overviews before it does not (rasterio's ``build_overviews`` holds the
GIL), so the work done meanwhile shares the interpreter with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import numpy as np

from soilmap.io.staging import OutputStage
from soilmap.outputs.cog import ScratchRaster
from soilmap.pipeline.faults import faults_translated
from soilmap.pipeline.journal import Journal
from soilmap.progress import Reporter

__all__ = ["CogFinishing"]


class CogFinishing:
    """Every scratch file turned into its COG, two at a time, largest first.

    GDAL's COG driver keeps about 1.3 of 2 cores busy on one file (reading and the
    overviews are sequential); a second file in parallel fills the gap.  COGs the
    ``journal`` records as finished are kept as they are.

    The copies start when the ``with`` block is entered.  :meth:`wait` gives one COG
    once it is written, :meth:`all` every one (and reports each, in order, as stage
    ``write``).  Leaving the block early (an error, Ctrl-C) cancels the copies not
    started and waits for those in progress, so nothing writes into the staging
    folder after the block: an interrupted run stops after the COGs in progress.
    """

    def __init__(
        self,
        targets: Mapping[str, ScratchRaster],
        report: Reporter,
        journal: Journal | None = None,
        *,
        stage: OutputStage,
        inputs: Sequence[Path] = (),
    ):
        self.targets = targets
        self.report = report
        self.journal = journal
        self.stage = stage
        self.inputs = inputs
        self.finished = set(journal.cogs) if journal is not None else set()
        self.order = sorted(
            (s for s in targets if s not in self.finished),
            key=lambda s: -targets[s].bands * np.dtype(targets[s].dtype).itemsize,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[Path]] = {}

    def _finish(self, stem: str) -> Path:
        path = self.targets[stem].finish()
        if self.journal is not None:
            self.journal.record_cog(stem)
        return path

    def __enter__(self) -> CogFinishing:
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="soilmap-cog")
        self._futures = {s: self._pool.submit(self._finish, s) for s in self.order}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            for f in self._futures.values():
                f.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def wait(self, stem: str) -> Path:
        """The COG of ``stem``, once it is written.

        Raises
        ------
        soilmap.errors.OutputSpaceError
            The disk filled up while writing it.
        """
        if stem in self.finished or stem not in self._futures:
            return self.targets[stem].path
        with faults_translated(self.stage, self.targets, self.inputs):
            return self._futures[stem].result()

    def all(self) -> dict[str, Path]:
        """Every COG by stem, once all are written."""
        written = {}
        for n, s in enumerate(self.order, start=1):
            written[s] = self.wait(s)
            self.report("write", n, len(self.order), "Cloud-Optimised GeoTIFFs")
        return {s: written.get(s, self.targets[s].path) for s in self.targets}
