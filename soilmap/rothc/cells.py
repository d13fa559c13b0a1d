"""The GSOCseq-style RothC run of an array of cells: calibrated spin-up, warm-up,
forward scenarios (numpy; :mod:`soilmap.rothc.grid` maps it over dask blocks).

Steps, for every cell at once:

1. Spin-up: the exact equilibrium under the spin-up year, with the plant inputs scaled
   so that it equals the observed stock (:mod:`soilmap.rothc.calibrate`).
2. Warm-up: the calibrated inputs month by month under the warm-up climate (whole
   years), from the equilibrium pools and moisture deficit.  Its end is ``t0``.
3. Forward: each scenario from ``t0`` for ``years`` years under the forward climate,
   plant inputs multiplied by the scenario's factor (manure unchanged).  All
   scenarios share one pass over the months (the modifiers do not depend on inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from soilmap.rothc.calibrate import CALIBRATED, calibrate
from soilmap.rothc.model import Climate, Soil, decompose, month_rate, retention

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Forcing:
    """Everything but the soil that a cell run needs (arrays with cells last).

    Attributes
    ----------
    spinup, forward : Climate
        12-month climates (spin-up year; the forward runs' repeating year).
    warmup : Climate or None
        Whole years of warm-up climate (``12 × W`` months), or ``None`` for no warm-up.
    plant : numpy.ndarray
        Unscaled plant inputs per month and pool, ``(12, 4, n)``, t C ha-1.
    fym : numpy.ndarray
        Manure per month and pool, ``(12, 4, n)``, t C ha-1.
    """

    spinup: Climate
    forward: Climate
    warmup: Climate | None
    plant: FloatArray
    fym: FloatArray


def _advance(
    pools: FloatArray,
    smd: FloatArray,
    climate: Climate,
    months: int,
    soil: Soil,
    added: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Run ``months`` months of pools ``(4, s, n)``; ``added`` is ``(12, 4, s, n)``."""
    for i in range(months):
        mod = month_rate(smd, climate, i, soil.water)
        smd = mod.smd
        pools, _ = decompose(pools, retention(mod.rate)[:, None, :], soil, added[i % 12])
    return pools, smd


def run_cells(
    soil: Soil,
    forcing: Forcing,
    observed: FloatArray,
    iom: FloatArray,
    *,
    scenarios: Mapping[str, float],
    horizons: Sequence[int],
) -> dict[str, FloatArray]:
    """Calibrate, warm up and run the scenarios of ``n`` cells.

    Parameters
    ----------
    soil : Soil
        The cells' soil (arrays ``(n,)``).
    forcing : Forcing
        Climates and inputs.
    observed : numpy.ndarray
        Observed SOC stock, ``(n,)``, t C ha-1 (the calibration target).
    iom : numpy.ndarray
        IOM, ``(n,)``, t C ha-1.
    scenarios : mapping
        Scenario name → plant-input multiplier (e.g. ``{"BAU": 1.0, "SSM1": 1.05}``).
    horizons : sequence of int
        Years after ``t0`` at which stocks are reported; the last is the run length.

    Returns
    -------
    dict
        ``status`` (calibration status codes), ``input_scale``, ``soc_equilibrium``,
        ``soc_t0`` and ``soc_<scenario>_<years>`` for each horizon (t C ha-1); NaN in
        cells that were not calibrated.
    """
    scale, eq, status, smd = calibrate(
        forcing.spinup, soil, forcing.plant, forcing.fym, observed, iom
    )
    ok = status == CALIBRATED
    s = np.where(ok, scale, 0.0)
    plant = np.nan_to_num(forcing.plant) * s
    fym = np.nan_to_num(forcing.fym)
    pools = np.where(ok, eq, 0.0)[:, None, :]
    out: dict[str, FloatArray] = {
        "status": status.astype(np.float64),
        "input_scale": scale,
        "soc_equilibrium": np.where(ok, eq.sum(axis=0) + iom, np.nan),
    }
    if forcing.warmup is not None:
        added = (plant + fym)[:, :, None, :]
        pools, smd = _advance(pools, smd, forcing.warmup, len(forcing.warmup), soil, added)
    out["soc_t0"] = np.where(ok, pools[:, 0].sum(axis=0) + iom, np.nan)
    names = list(scenarios)
    mult = np.array([scenarios[k] for k in names])[None, None, :, None]
    added = plant[:, :, None, :] * mult + fym[:, :, None, :]
    pools = np.repeat(pools, len(names), axis=1)
    done = 0
    for h in sorted(horizons):
        pools, smd = _advance(pools, smd, forcing.forward, 12 * (h - done), soil, added)
        done = h
        soc = pools.sum(axis=0) + iom
        for j, name in enumerate(names):
            out[f"soc_{name}_{h}"] = np.where(ok, soc[j], np.nan)
    return out
