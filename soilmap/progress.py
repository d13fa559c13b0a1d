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
>>> events[0]
ProgressEvent(stage='compute', done=1, total=4, message='windows')
>>> events[0].to_dict()
{'stage': 'compute', 'done': 1, 'total': 4, 'message': 'windows'}
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["STAGES", "Progress", "ProgressEvent", "Reporter", "progress_bar", "reporter", "resolve"]

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
    """

    stage: str
    done: int
    total: int
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (one line of ``--progress json``)."""
        return asdict(self)


#: A callback that receives the run's events.
Progress = Callable[[ProgressEvent], None]
#: What the engine calls: ``report(stage, done, total, message)``.
Reporter = Callable[[str, int, int, str], None]


def reporter(progress: Progress | None) -> Reporter:
    """A ``report(stage, done, total, message)`` function that feeds ``progress``.

    With no callback, reports go nowhere.
    """

    def report(stage: str, done: int, total: int, message: str = "") -> None:
        if progress is not None:
            progress(ProgressEvent(stage, done, total, message))

    return report


def progress_bar(file: Any = None) -> Progress:
    """A callback that draws one ``tqdm`` bar per stage (terminal or notebook)."""
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}

    def show(event: ProgressEvent) -> None:
        bar = bars.get(event.stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bars.clear()
            if event.stage == "done":
                return
            bar = bars[event.stage] = tqdm(
                total=event.total,
                desc=f"soilmap {event.stage}",
                unit=f" {event.message}" if event.message else "it",
                file=file if file is not None else sys.stderr,
                leave=False,
            )
        bar.total = event.total
        bar.update(event.done - bar.n)
        if event.done >= event.total:
            bar.close()
            del bars[event.stage]

    return show


def resolve(progress: bool | Progress | None) -> Progress | None:
    """The callback for a ``progress=`` argument.

    ``None`` shows a bar when stderr is a terminal, ``True`` always, ``False`` never;
    a callable is used as it is.
    """
    if callable(progress):
        return progress
    if progress is None:
        progress = sys.stderr.isatty()
    return progress_bar() if progress else None
