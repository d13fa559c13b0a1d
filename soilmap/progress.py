"""Progress of a run as events, for whatever front end shows them.

The engine reports what it does as :class:`ProgressEvent` objects passed to a
callback: a terminal bar, a notebook widget, the JSON lines of
``soilmap run --progress json`` (read by the QGIS provider) or a test that records
them.  The engine never prints progress itself.

Example
-------
>>> events = []
>>> report = reporter(events.append)
>>> report("compute", 1, 4, "windows")
>>> events[0].stage, events[0].done, events[0].total, events[0].message
('compute', 1, 4, 'windows')
>>> events[0].to_dict()["stage"], events[0].to_dict()["done"]
('compute', 1)
>>> report("compute", 2, 4, "windows", cells=500, cells_total=1000)
>>> events[1].cells, events[1].cells_total
(500, 1000)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "STAGES",
    "Progress",
    "ProgressEvent",
    "Reporter",
    "in_notebook",
    "progress_bar",
    "reporter",
    "resolve",
]

#: The stages of a run, in order; ``done``/``total`` count the stage's own steps.
STAGES = ("open", "compute", "write", "tables", "report", "done")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a run.

    Attributes
    ----------
    stage : str
        One of :data:`STAGES`.
    done, total : int
        Steps of the stage done so far, out of ``total`` (windows, files ...).
    message : str
        What the steps are, for a log line.
    cells, cells_total : int
        Grid cells computed so far and in all (stage ``compute``; 0 where not counted):
        a bar shows cells/s and the time left from them.
    detail : str
        More about where the stage runs (e.g. a Dask cluster's dashboard address).
    """

    stage: str
    done: int
    total: int
    message: str = ""
    cells: int = 0
    cells_total: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (one line of ``--progress json``)."""
        return asdict(self)


#: A callback that receives the run's events.
Progress = Callable[[ProgressEvent], None]
#: What the engine calls: ``report(stage, done, total, message, **fields)``.
Reporter = Callable[..., None]


def reporter(progress: Progress | None) -> Reporter:
    """A ``report(stage, done, total, message)`` function that feeds ``progress``.

    With no callback, reports go nowhere.
    """

    def report(stage: str, done: int, total: int, message: str = "", **fields: Any) -> None:
        if progress is not None:
            progress(ProgressEvent(stage, done, total, message, **fields))

    return report


def _bar_for(event: ProgressEvent, file: Any) -> Any:
    from tqdm.auto import tqdm

    counted = event.cells_total > 0
    bar = tqdm(
        total=event.cells_total if counted else event.total,
        desc=f"soilmap {event.stage}",
        unit=" cells" if counted else (f" {event.message}" if event.message else "it"),
        unit_scale=counted,
        file=file if file is not None else sys.stderr,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.5,
        # Average speed since the stage began: windows cost about the same, so this
        # is the steadiest estimate of the time left.
        smoothing=0,
    )
    if event.detail:
        bar.write(f"soilmap {event.stage}: {event.detail}", file=bar.fp)
    return bar


def progress_bar(file: Any = None) -> Progress:
    """A callback that draws one ``tqdm`` bar per stage: a terminal bar, a notebook widget.

    ``tqdm.auto`` picks the widget in Jupyter.  The ``compute`` stage counts cells, so
    the bar shows cells/s and the time left (ETA); other stages count their steps.
    """
    bars: dict[str, Any] = {}
    # When the previous event came: a stage's work began when the one before it ended,
    # and its first event only comes once its first step is done.
    last = [time.time()]

    def show(event: ProgressEvent) -> None:
        began, last[0] = last[0], time.time()
        bar = bars.get(event.stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bars.clear()
            if event.stage == "done":
                return
            bar = bars[event.stage] = _bar_for(event, file)
            bar.start_t = bar.last_print_t = min(bar.start_t, began)
        counted = event.cells_total > 0
        bar.total = event.cells_total if counted else event.total
        if counted:  # before the update, which draws it
            bar.set_postfix_str(f"{event.done}/{event.total} {event.message}", refresh=False)
        bar.update((event.cells if counted else event.done) - bar.n)
        if event.done >= event.total:
            bar.close()
            del bars[event.stage]

    return show


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where stderr is no terminal, yet a bar shows)."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ip = shell.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def resolve(progress: bool | Progress | None) -> Progress | None:
    """The callback for a ``progress=`` argument.

    ``None`` shows a bar when stderr is a terminal or in a Jupyter notebook, ``True``
    always, ``False`` never; a callable is used as it is.
    """
    if callable(progress):
        return progress
    if progress is None:
        progress = sys.stderr.isatty() or in_notebook()
    return progress_bar() if progress else None
