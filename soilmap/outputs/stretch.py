"""Robust colour stretches: percentiles from a fixed-bin histogram gathered in the run's pass.

A global map stretched from its minimum to its maximum renders pale (a few extreme
cells take most of the ramp).  The styles are stretched on the 2nd-98th percentile
instead.  Exact percentiles would need the whole raster at once; a histogram on
fixed bins can be computed per window and summed over windows, in the same pass
that writes the rasters (no extra read).  The bins are logarithmic in ``|x|``
(:data:`BINS_PER_DECADE` per decade from 1e-6 to 1e7, both signs), so a percentile is
within 4 % of its value whatever the quantity's scale, which is far finer than a
colour ramp can show.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BINS_PER_DECADE", "EDGES", "percentiles"]

#: Histogram bins per decade of ``|x|``.
BINS_PER_DECADE = 64
_POS = np.logspace(-6, 7, 13 * BINS_PER_DECADE + 1)
#: Fixed bin edges: ±1e-6 ... ±1e7 on a log scale, one bin around zero, open ends.
EDGES = np.concatenate([[-1e30], -_POS[::-1], _POS, [1e30]])


def percentiles(
    counts: np.ndarray, vmin: float, vmax: float, qs: Sequence[float] = (2.0, 98.0)
) -> tuple[float, ...]:
    """Percentiles ``qs`` (0-100) of the values counted in ``counts`` (bins :data:`EDGES`).

    Interpolated linearly within a bin, and clipped to the exact ``vmin``/``vmax``
    (which also bound the open outer bins).  NaN when nothing was counted.

    Examples
    --------
    >>> x = np.arange(1.0, 101.0)  # 1 ... 100
    >>> counts, _ = np.histogram(x, bins=EDGES)
    >>> p2, p98 = percentiles(counts, 1.0, 100.0)
    >>> bool(abs(p2 - 2.0) / 2.0 < 0.04), bool(abs(p98 - 98.0) / 98.0 < 0.04)
    (True, True)
    """
    counts = np.asarray(counts, dtype="float64")
    total = counts.sum()
    if not total > 0:
        return tuple(float("nan") for _ in qs)
    cum = np.cumsum(counts)
    out = []
    for q in qs:
        target = q / 100.0 * total
        i = int(np.searchsorted(cum, target, side="left"))
        i = min(i, counts.size - 1)
        lo_edge = max(float(EDGES[i]), vmin)
        hi_edge = min(float(EDGES[i + 1]), vmax)
        before = cum[i - 1] if i > 0 else 0.0
        share = (target - before) / counts[i] if counts[i] > 0 else 0.0
        value = lo_edge + share * (hi_edge - lo_edge)
        out.append(float(np.clip(value, vmin, vmax)))
    return tuple(out)
