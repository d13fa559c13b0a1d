"""Likely organic soils: cells whose 0–30 cm stock is beyond what mineral soils hold.

The 4 per 1000 target is about mineral soils: organic soils (peat) lose carbon when
drained and are not expected to gain 4 ‰ a year.  soilmap excludes them only with a
mask (``exclude`` vector or ``exclude_rasters`` raster under ``[landcover]``, e.g. a
peatland map); it also *counts*, in the run's single pass, the cells whose 0–30 cm
stock exceeds :data:`ORGANIC_STOCK_T_HA`, so that a run without a peat mask says how
much of its land is likely organic (``run.json`` ``value_checks.likely_organic_soils``
and a console warning).

The threshold: organic soil material holds at least 12 % organic carbon by mass (IPCC
2006 Guidelines, Vol. 4, Ch. 3, Annex 3A.5, after FAO's World Reference Base: 12 % for
soils without clay, up to 18 % with 60 % clay, 20 % when never water-saturated).  A
0–30 cm layer at 12 % organic carbon holds 0.12 × bulk density (g cm-3) × 30 cm × 100 =
360 × bulk density t C ha-1: 200 t C ha-1 at 0.56 g cm-3, a density that mineral soil
reaches only when it is rich in organic matter; peat (0.1–0.3 g cm-3, ~50 % carbon)
holds 150–450 t C ha-1.  So 200 t C ha-1 flags most peat and few mineral soils: a
screening indicator, not a soil map (give a peat mask to exclude).

>>> round(0.12 * 0.56 * 30 * 100)
202
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from soilmap.blockstats import BlockStats, block_stats

__all__ = [
    "ORGANIC_STOCK_SOURCE",
    "ORGANIC_STOCK_T_HA",
    "organic_reductions",
    "organic_summary",
]

#: 0–30 cm stock (t C ha-1) above which a cell is counted as a likely organic soil.
ORGANIC_STOCK_T_HA = 200.0

#: Where :data:`ORGANIC_STOCK_T_HA` comes from (run.json and README).
ORGANIC_STOCK_SOURCE = (
    "12 % organic carbon, the lower limit of organic soil material (IPCC 2006 Guidelines, "
    "Vol. 4, Ch. 3, Annex 3A.5, after FAO WRB), over 0-30 cm at a bulk density of "
    "0.56 g cm-3 (0.12 x 0.56 x 30 cm x 100 = 200 t C ha-1); a screening indicator, "
    "not a soil map"
)

_PREFIX = "organic:"


def _organic_block(stock: np.ndarray, shares: Sequence[np.ndarray], area: np.ndarray) -> np.ndarray:
    """Cells above the threshold, and each group's hectares above it, of one block.

    ``shares``: the blocks along the group axis (not concatenated: no copy).
    """
    groups = [g for block in shares for g in block]
    out = np.zeros(1 + len(groups))
    if stock.size == 0 or not np.fmax.reduce(stock, axis=None) > ORGANIC_STOCK_T_HA:
        return out
    with np.errstate(invalid="ignore"):
        above = stock > ORGANIC_STOCK_T_HA
    out[0] = np.count_nonzero(above)
    a = area[above].astype("float64")
    for i, g in enumerate(groups):
        out[1 + i] = np.nansum(g[above] * a)
    return out


def organic_reductions(
    stock: xr.DataArray, fractions: xr.DataArray, area_ha: xr.DataArray
) -> BlockStats:
    """The sums the count needs, computed with the run's other statistics, per chunk.

    Keys ``organic:cells`` (cells above the threshold) and ``organic:<group>``
    (hectares above it, per land-use group).
    """
    groups = [str(v) for v in fractions["group"].values]
    return block_stats(
        _organic_block,
        stock.data,
        "yx",
        fractions.transpose("group", "y", "x").data,
        "gyx",
        area_ha.transpose("y", "x").data,
        "yx",
        keys=[f"{_PREFIX}cells", *(f"{_PREFIX}{g}" for g in groups)],
        ops=["sum"] * (1 + len(groups)),
        cell_chunks=stock.data.chunks,
        integer=[f"{_PREFIX}cells"],
    )


def organic_summary(
    reduced: dict[str, float], eligible: set[str], depth: str | None
) -> dict[str, object]:
    """``run.json``'s ``likely_organic_soils`` from the computed sums.

    Parameters
    ----------
    reduced : dict
        The run's computed reductions.
    eligible : set of str
        Groups eligible in any scenario.
    depth : str or None
        The stock's depth range (``"0-30"``); other depths are not counted.
    """
    base = {
        "threshold_t_c_per_ha_0_30cm": ORGANIC_STOCK_T_HA,
        "threshold_source": ORGANIC_STOCK_SOURCE,
        "exclude_with": "a peat mask: exclude = [...] or exclude_rasters = [...] in [landcover]",
    }
    if depth != "0-30":
        return {**base, "counted": False, "note": f"not counted: the stock is {depth} cm"}
    by_group = {
        k[len(_PREFIX) :]: float(v)
        for k, v in reduced.items()
        if k.startswith(_PREFIX) and k != f"{_PREFIX}cells"
    }
    return {
        **base,
        "counted": True,
        "cells": int(reduced.get(f"{_PREFIX}cells", 0)),
        "area_ha_by_group": by_group,
        "eligible_area_ha": sum(v for g, v in by_group.items() if g in eligible),
    }
