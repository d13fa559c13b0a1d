"""A RothC run of one site as the official programs do it (spin-up, then month by month).

The spin-up repeats the first 12 months from empty pools and a zero moisture deficit
until the yearly change of DPM+RPM+BIO+HUM is below 1e-6 t C ha-1; the run then goes
on from month 13 with the deficit and pools the spin-up left.  CO2 is summed from the
end of the spin-up, as in the Fortran release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from soilmap.rothc.inputfile import PointInput
from soilmap.rothc.model import Climate, Soil, decompose, month_rate, partition, retention
from soilmap.rothc.model import split_inputs as _split
from soilmap.rothc.modifiers import soil_water

#: The official spin-up's stopping rule: yearly change of the active pools, t C ha-1.
SPINUP_TOLERANCE = 1e-6
#: The pool, SOC and CO2 columns ending both official result tables, t C ha-1.
POOL_COLUMNS = (
    "DPM_t_C_ha",
    "RPM_t_C_ha",
    "BIO_t_C_ha",
    "HUM_t_C_ha",
    "IOM_t_C_ha",
    "SOC_t_C_ha",
    "CO2_t_C_ha",
)
#: Columns of ``month_results.csv`` (official names; RM_* and PC dimensionless).
MONTH_COLUMNS = (
    "Year",
    "Month",
    "C_Inp_t_C_ha",
    "FYM_Inp_t_C_ha",
    "TEMP_C",
    "RM_TMP",
    "RAIN_mm",
    "PEVAP_mm",
    "SMD_mm",
    "RM_Moist",
    "PC",
    "RM_PC",
    *POOL_COLUMNS,
)


@dataclass
class PointResult:
    """What :func:`run_point` computed.

    Attributes
    ----------
    spinup_months : int
        Months the spin-up took.
    equilibrium : numpy.ndarray
        DPM, RPM, BIO, HUM at the end of the spin-up, t C ha-1.
    months : pandas.DataFrame
        One row per month after the spin-up (official ``month_results`` columns).
    iom : float
        IOM, t C ha-1.
    """

    spinup_months: int
    equilibrium: np.ndarray
    months: pd.DataFrame
    iom: float


def soil_of(inp: PointInput) -> Soil:
    """The :class:`~soilmap.rothc.model.Soil` of a point input."""
    co2, bio, hum = partition(inp.clay)
    water = soil_water(
        inp.clay,
        inp.depth,
        opt_rmmoist=inp.opt_rmmoist,
        opt_smdbare=inp.opt_smdbare,
        silt=inp.silt,
        bulk_density=inp.bulk_density,
        oc=inp.oc,
        min_rm_moist=inp.min_rm_moist,
    )
    return Soil(co2, bio, hum, water)


def climate_of(inp: PointInput, start: int = 0, stop: int | None = None) -> Climate:
    """The forcing of rows ``start:stop`` of a point input."""
    m = inp.months
    sl = slice(start, stop)
    return Climate(m["Tmp"][sl], m["Rain"][sl], m["Evap"][sl], m["PC"][sl].astype(np.int8))


def spinup(inp: PointInput, soil: Soil, max_years: int = 100_000) -> tuple[np.ndarray, float, int]:
    """The official iterative spin-up on the first 12 months.

    Returns
    -------
    tuple
        Pools (DPM, RPM, BIO, HUM; t C ha-1), the moisture deficit (mm) and the number
        of months run.
    """
    year = climate_of(inp, 0, 12)
    added = _split(inp.months["C_inp"][:12], inp.months["DPM_RPM"][:12], inp.months["FYM"][:12])
    pools = np.zeros(4)
    smd = np.zeros(())
    total = 0.0
    for years in range(1, max_years + 1):
        for i in range(12):
            mod = month_rate(smd, year, i, soil.water)
            smd = mod.smd
            pools, _ = decompose(pools, retention(mod.rate), soil, added[:, i])
        previous, total = total, float(pools.sum())
        if abs(total - previous) < SPINUP_TOLERANCE:
            return pools, float(smd), 12 * years
    return pools, float(smd), 12 * max_years


def run_point(inp: PointInput) -> PointResult:
    """Spin up, then run months 13 to ``nsteps`` of a point input.

    Parameters
    ----------
    inp : PointInput
        From :func:`soilmap.rothc.inputfile.read_input`.
    """
    soil = soil_of(inp)
    pools, smd0, n = spinup(inp, soil)
    eq = pools.copy()
    clim = climate_of(inp, 12)
    m = inp.months
    added = _split(m["C_inp"][12:], m["DPM_RPM"][12:], m["FYM"][12:])
    smd = np.asarray(smd0)
    co2 = 0.0
    rows = []
    for i in range(len(clim)):
        mod = month_rate(smd, clim, i, soil.water)
        smd = mod.smd
        pools, lost = decompose(pools, retention(mod.rate), soil, added[:, i])
        co2 += float(lost)
        j = 12 + i
        rows.append(
            (
                int(m["year"][j]),
                int(m["month"][j]),
                m["C_inp"][j],
                m["FYM"][j],
                m["Tmp"][j],
                float(mod.rm_tmp),
                m["Rain"][j],
                m["Evap"][j],
                float(smd),
                float(mod.rm_moist),
                int(m["PC"][j]),
                float(mod.rm_pc),
                *pools.tolist(),
                inp.iom,
                float(pools.sum()) + inp.iom,
                co2,
            )
        )
    return PointResult(n, eq, pd.DataFrame(rows, columns=list(MONTH_COLUMNS)), inp.iom)
