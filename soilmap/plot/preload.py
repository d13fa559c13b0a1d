"""Import the plotting libraries ahead of the first figure, in the background.

matplotlib's pyplot and the scale bar take about half a second to import.  A run
imports them while it computes its windows, when the interpreter mostly waits for
GDAL and numpy, so its report does not wait for them.
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["preload_plotting"]


def _load() -> None:
    # A failure here is not the run's: the report imports them again and says why.
    with contextlib.suppress(Exception):
        import matplotlib.pyplot  # noqa: F401
        import matplotlib_scalebar.scalebar  # noqa: F401


def preload_plotting() -> threading.Thread:
    """Start importing matplotlib's pyplot and the scale bar in a daemon thread.

    The import chooses no backend (pyplot does that at the first figure, in the
    thread that draws it), so a notebook keeps its inline backend.

    Returns
    -------
    threading.Thread
        The thread importing them (started).
    """
    thread = threading.Thread(target=_load, name="soilmap-preload-plotting", daemon=True)
    thread.start()
    return thread
