"""Calibrated spin-up, warm-up and scenarios for an array of cells (numpy, one block).

RothC is linear in its inputs for a given climate, so the equilibrium is
``x* = s x*_plant + x*_fym`` with ``x*_plant`` the equilibrium of the unscaled plant
inputs and ``x*_fym`` that of the manure.  Calibration picks the plant-input scale
``s`` for which ``sum(x*) + IOM`` equals the observed stock.  Cells where that is
impossible get a status code (never a silent zero):

* :data:`NO_CLIMATE` — a climate value is missing (NaN) or nothing decomposes all year;
* :data:`NO_INPUTS` — the plant inputs are zero (or missing) all year;
* :data:`BELOW_IOM` — the observed stock is not above IOM + the manure's equilibrium;
* :data:`NO_SOIL` — clay, depth or the observed stock is missing.

Examples
--------
>>> STATUS_NAMES[BELOW_IOM]
'observed_stock_not_above_iom_and_manure'
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from soilmap.rothc.equilibrium import (
    periodic_keep,
    solve_equilibrium,
    year_inputs,
    year_map,
)
from soilmap.rothc.model import Climate, Soil

FloatArray = npt.NDArray[np.float64]

CALIBRATED = 0
NO_SOIL = 1
NO_CLIMATE = 2
NO_INPUTS = 3
BELOW_IOM = 4
#: Names of the status codes (as run.json and the console report them).
STATUS_NAMES = {
    CALIBRATED: "calibrated",
    NO_SOIL: "missing_clay_depth_or_stock",
    NO_CLIMATE: "missing_climate_or_no_decomposition",
    NO_INPUTS: "zero_carbon_inputs",
    BELOW_IOM: "observed_stock_not_above_iom_and_manure",
}


def calibrate(
    climate: Climate,
    soil: Soil,
    plant: FloatArray,
    fym: FloatArray,
    observed: FloatArray,
    iom: FloatArray,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int8], FloatArray]:
    """Scale the plant inputs so that the equilibrium equals the observed stock.

    Parameters
    ----------
    climate : Climate
        The spin-up year, arrays ``(12, n)``.
    soil : Soil
        The cells' soil, arrays ``(n,)``.
    plant, fym : numpy.ndarray
        Unscaled plant inputs and manure split into pools, ``(12, 4, n)``, t C ha-1 per month.
    observed : numpy.ndarray
        Observed total SOC stock, ``(n,)``, t C ha-1.
    iom : numpy.ndarray
        IOM, ``(n,)``, t C ha-1.

    Returns
    -------
    tuple
        The scale ``s`` ``(n,)`` (NaN where not calibrated), the equilibrium pools
        ``(4, n)`` (t C ha-1, NaN where not calibrated), the status ``(n,)`` int8 and
        the December moisture deficit ``(n,)`` (mm) that the warm-up starts from.
    """
    keep, smd = periodic_keep(climate, soil)
    finite = np.isfinite(keep).all(axis=(0, 1))
    active = np.asarray(finite & (keep < 1.0).any(axis=(0, 1)))
    m = year_map(np.where(np.isfinite(keep), keep, 1.0), soil)
    c = np.stack([year_inputs(keep, soil, np.nan_to_num(x)) for x in (plant, fym)], axis=-1)
    eq = solve_equilibrium(m, c, active)  # (4, n, 2)
    unit, manure = eq[..., 0].sum(axis=0), eq[..., 1].sum(axis=0)
    room = observed - iom - manure
    status = np.full(observed.shape, CALIBRATED, dtype=np.int8)
    has_plant = (np.nan_to_num(plant[:, :2]) > 0).any(axis=(0, 1))
    status[room <= 0] = BELOW_IOM
    status[~has_plant] = NO_INPUTS
    status[~active] = NO_CLIMATE
    bad_soil = ~np.isfinite(observed) | ~np.isfinite(iom) | ~np.isfinite(soil.f_bio)
    status[bad_soil | ~np.isfinite(soil.water.smd15)] = NO_SOIL
    ok = status == CALIBRATED
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(ok, room / unit, np.nan)
    pools = np.where(ok, scale * eq[..., 0] + eq[..., 1], np.nan)
    return scale, pools, status, smd
