"""The regional RothC table: one row per region × land-use group × scenario.

Every total is Σ value × cell area × group fraction over the *calibrated* cells of the
region and group (exact coverage, true cell areas; :mod:`soilmap.zonal.sums`); the
``all`` rows sum the groups.  Ratios are of totals (never means of pixel ratios):
``attainable_share_of_target`` = RothC gain / (rate × stock at t0 × years).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["TABLE", "TABLE_UNITS", "rothc_rows", "zonal_layer_names"]

#: Stem and GeoPackage layer of the table (under ``rothc/``).
TABLE = "rothc_stats"

TABLE_UNITS = {
    "area_ha": "ha",
    "multiplier": "1",
    "soc_t0_t": "t C",
    "rothc_gain_t": "t C",
    "rothc_t_per_yr": "t C yr-1",
    "target_t_per_yr": "t C yr-1",
    "attainable_share_of_target": "1",
}


def zonal_layer_names(scenarios: Sequence[str], horizons: Sequence[int]) -> list[str]:
    """The layers summed per region × group: the t0 stock and each scenario's stocks."""
    return ["soc_t0", *[f"soc_{s}_{h}" for s in scenarios for h in horizons]]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    return np.divide(num, den, out=out, where=den > 0)


def rothc_rows(
    frame: pd.DataFrame,
    regions: gpd.GeoDataFrame,
    scenarios: Mapping[str, float],
    horizons: Sequence[int],
    rate: float,
) -> gpd.GeoDataFrame:
    """The table from :meth:`~soilmap.zonal.sums.ZonalSums.frame` of the RothC layers.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``region_index``, ``landuse``, ``area_ha`` and ``<layer>_sum`` per region × group.
    regions : geopandas.GeoDataFrame
        The regions (``region_id``, ``region_name``, geometry).
    scenarios : mapping
        Scenario → plant-input multiplier.
    horizons : sequence of int
        Years after t0; the last is the one of the rates and the share of the target.
    rate : float
        The target's relative annual growth (0.004).
    """
    cols = ["area_ha", "soc_t0_sum", *[c for c in frame.columns if c.startswith("soc_")]]
    cols = list(dict.fromkeys(c for c in cols if c.endswith("_sum") or c == "area_ha"))
    groups = frame[["region_index", "landuse", *cols]]
    all_rows = groups.groupby("region_index", as_index=False)[cols].sum().assign(landuse="all")
    # Groups a region does not have are left out; its 'all' row always stays.
    groups = groups[groups["area_ha"] > 0]
    base = pd.concat([groups, all_rows], ignore_index=True)
    years = max(horizons)
    parts = []
    for s, mult in scenarios.items():
        part = base[["region_index", "landuse", "area_ha"]].copy()
        part["scenario"] = s
        part["multiplier"] = mult
        part["soc_t0_t"] = base["soc_t0_sum"].to_numpy()
        for h in horizons:
            part[f"soc_{h}yr_t"] = base[f"soc_{s}_{h}_sum"].to_numpy()
        gain = part[f"soc_{years}yr_t"].to_numpy() - part["soc_t0_t"].to_numpy()
        part["rothc_gain_t"] = gain
        part["rothc_t_per_yr"] = gain / years
        part["target_t_per_yr"] = rate * part["soc_t0_t"].to_numpy()
        part["attainable_share_of_target"] = _ratio(
            part["rothc_t_per_yr"].to_numpy(), part["target_t_per_yr"].to_numpy()
        )
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    order = {g: i for i, g in enumerate(dict.fromkeys([*frame["landuse"], "all"]))}
    table = table.sort_values(
        ["region_index", "landuse", "scenario"],
        key=lambda c: c.map(order) if c.name == "landuse" else c,
        kind="stable",
    ).reset_index(drop=True)
    ri = table.pop("region_index").to_numpy()
    table.insert(0, "region_id", regions["region_id"].to_numpy()[ri])
    table.insert(1, "region_name", regions["region_name"].to_numpy()[ri])
    return gpd.GeoDataFrame(table, geometry=list(regions.geometry.to_numpy()[ri]), crs=regions.crs)


def table_units(horizons: Sequence[int]) -> dict[str, str]:
    """Units of every numeric column."""
    return {**TABLE_UNITS, **{f"soc_{h}yr_t": "t C" for h in horizons}}
