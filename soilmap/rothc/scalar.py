"""A scalar, pure-Python RothC of one cell (``math`` only, standard moisture option).

An independent writing of the same equations as :mod:`soilmap.rothc.model`, one month
and one cell at a time as the official programs and the GSOCseq R scripts do it.  The
tests check the vectorised grid against it, and ``benchmarks/rothc_grid.py`` measures
it as the per-point approach.

Examples
--------
>>> year = [(3.73, 52.2, 6.6, 1)] * 12
>>> pools, smd = step_year([0.0, 0.0, 0.0, 0.0], 0.0, year, [0.1] * 12, 1.44, 13.0, 25.0)
>>> round(sum(pools), 6)
0.862592
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_K = (10.0, 0.3, 0.66, 0.02)


def step_year(
    pools: list[float],
    smd: float,
    months: Sequence[tuple[float, float, float, int]],
    plant: Sequence[float],
    dpm_rpm: float,
    clay: float,
    depth: float,
    fym: Sequence[float] | None = None,
) -> tuple[list[float], float]:
    """Run the months of ``months`` (temperature °C, rain mm, pan evaporation mm, cover).

    Parameters
    ----------
    pools : list of float
        DPM, RPM, BIO, HUM, t C ha-1.
    smd : float
        Moisture deficit at the start, mm.
    months : sequence of tuple
        One tuple per month.
    plant : sequence of float
        Plant carbon input per month, t C ha-1.
    dpm_rpm : float
        DPM/RPM ratio of the plant input.
    clay, depth : float
        Clay %, topsoil depth cm.
    fym : sequence of float, optional
        Manure carbon per month, t C ha-1.

    Returns
    -------
    tuple
        The pools and the deficit at the end.
    """
    dpm, rpm, bio, hum = pools
    smd15 = -(20.0 + 1.3 * clay - 0.01 * clay * clay) * depth / 23.0
    smd1, bare = 0.444 * smd15, 0.556 * smd15
    x = 1.67 * (1.85 + 1.60 * math.exp(-0.0786 * clay))
    fb, fh = 0.46 / (x + 1.0), 0.54 / (x + 1.0)
    for i, (t, rain, evap, cover) in enumerate(months):
        df = rain - 0.75 * evap
        if cover == 1:
            smd = max(smd15, min(0.0, smd + df))
        else:
            smd = max(min(bare, smd), min(0.0, smd + df))
        rt = 0.0 if t < -5.0 else 47.91 / (math.exp(106.06 / (t + 18.27)) + 1.0)
        rw = 1.0 if smd > smd1 else 0.2 + 0.8 * (smd15 - smd) / (smd15 - smd1)
        a = rt * rw * (0.6 if cover == 1 else 1.0)
        left = [p * math.exp(-a * k / 12.0) for p, k in zip((dpm, rpm, bio, hum), _K, strict=True)]
        lost = (dpm - left[0]) + (rpm - left[1]) + (bio - left[2]) + (hum - left[3])
        f = fym[i % len(fym)] if fym else 0.0
        c = plant[i % len(plant)]
        dpm = left[0] + dpm_rpm / (dpm_rpm + 1.0) * c + 0.49 * f
        rpm = left[1] + 1.0 / (dpm_rpm + 1.0) * c + 0.49 * f
        bio = left[2] + fb * lost
        hum = left[3] + fh * lost + 0.02 * f
    return [dpm, rpm, bio, hum], smd
