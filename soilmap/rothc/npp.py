"""Carbon inputs from net primary production: the Miami model (Lieth 1975), as GSOCseq.

NPP (g dry matter m-2 yr-1) = min(NPP_T, NPP_P) with
``NPP_T = 3000 / (1 + exp(1.315 − 0.119 T))`` (T: mean annual temperature, °C) and
``NPP_P = 3000 (1 − exp(−0.000664 P))`` (P: annual precipitation, mm); GSOCseq turns it
into t C ha-1 yr-1 with ``× 1/100 × 0.5`` (g m-2 → t ha-1, half of dry matter is carbon)
and takes a land-use share of it as the soil input (:data:`soilmap.rothc.params.DEFAULTS`).
Checked against FAO GSOCseq's ``NPPmodel.R`` (ncss-tech/gsp-gsocseq).

>>> round(float(miami_npp(10.0, 2000.0)), 2)  # temperature-limited: 3000 / (1 + e^0.125)
1406.37
>>> round(float(miami_npp(10.0, 800.0)), 2)  # rain-limited: 3000 (1 - e^-0.5312)
1236.3
>>> float(npp_carbon(1000.0))
5.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CARBON_PER_DRY_MATTER", "miami_npp", "npp_carbon"]

#: Carbon share of plant dry matter (GSOCseq).
CARBON_PER_DRY_MATTER = 0.5


def miami_npp(temp_c: npt.ArrayLike, precip_mm: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Miami NPP (g dry matter m-2 yr-1) from mean annual temperature (°C) and rain (mm)."""
    t = np.asarray(temp_c, dtype=np.float64)
    p = np.asarray(precip_mm, dtype=np.float64)
    by_temp = 3000.0 / (1.0 + np.exp(1.315 - 0.119 * t))
    by_rain = 3000.0 * (1.0 - np.exp(-0.000664 * p))
    return np.minimum(by_temp, by_rain)


def npp_carbon(npp_g_dm_m2: Any) -> Any:
    """NPP in t C ha-1 yr-1 from g dry matter m-2 yr-1 (× 0.01 t ha-1 per g m-2 × 0.5 C).

    Arithmetic only, so a lazy (dask, xarray) layer stays lazy.
    """
    return npp_g_dm_m2 * (0.01 * CARBON_PER_DRY_MATTER)
