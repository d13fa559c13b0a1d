"""The zonal statistics table: rows per region × land-use group × scenario, with units.

Built from the computed :class:`~soilmap.zonal.sums.ZonalSums` of a run: totals are
Σ value × true cell area × region coverage × group share, per-group layers carry
caps and rate rasters exactly, and bounds get their own columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from soilmap.io.vector import EMISSIONS
from soilmap.keys import Bound, LayerKey
from soilmap.landuse.table import ALL_LAND
from soilmap.scenario.model import Scenario
from soilmap.zonal.independent import Aggregation, apply_independent, hidden_columns
from soilmap.zonal.statistics import summarise_groups
from soilmap.zonal.sums import ZonalSums

__all__ = ["zonal_table", "zonal_units"]

_BOUNDS: tuple[Bound, ...] = ("lower", "upper")
# The columns after the sums, in table order (those a run has).
_TRAILING = (
    "eligible",
    "rate_per_yr",
    "soc_mean_t_per_ha",
    "saturated_share",
    "region_area_ha",
    "covered_share",
    "extent_share",
    "emissions_t_co2e_per_yr",
    "offset_share",
    "scenario",
    "region_index",
)


def zonal_table(
    scenarios: Sequence[Scenario],
    regions: gpd.GeoDataFrame,
    sums: ZonalSums,
    region_area: np.ndarray,
    *,
    aggregation: Aggregation = "correlated",
) -> gpd.GeoDataFrame:
    """The zonal statistics table.

    One row per region × land-use group × scenario, plus an ``all`` row per region
    and scenario; totals are Σ value × true cell area × region coverage × group share.

    Parameters
    ----------
    scenarios : sequence of Scenario
        The run's scenarios, in order.
    regions : geopandas.GeoDataFrame
        The regions on the grid (with ``emissions_t_co2e_per_yr`` when the run
        reports offset shares; see :func:`soilmap.io.vector.read_regions`).
    sums : ZonalSums
        Computed sums, keyed by :class:`~soilmap.keys.LayerKey`: ``soc_stock`` (and
        its bounds), and per scenario ``sequestration``, ``gain_<year>`` (and bounds),
        ``at_saturation`` and ``no_saturation_data`` for capped scenarios.
    region_area : numpy.ndarray
        Area of each region (ha), on the cell areas' surface
        (:func:`~soilmap.zonal.regions.region_areas_on_grid`), so that
        ``covered_share`` and ``extent_share`` are at most 1.
    aggregation : {"correlated", "independent"}
        How cell bounds make regional bounds: summed (perfectly correlated errors), or
        combined in quadrature (independent cells; the sums need the squared-deviation
        layers of :func:`soilmap.zonal.independent.deviation_layers`).
    """
    stock = LayerKey("soc_stock")
    base = sums.frame(regions, stats=())
    base["soc_stock_t"] = sums.column(stock)
    base["soc_stock_min"] = sums.column(stock, "min")
    base["soc_stock_max"] = sums.column(stock, "max")
    emissions = regions[EMISSIONS].to_numpy() if EMISSIONS in regions else None
    frames = [
        _scenario_frame(sc, base, sums, regions, region_area, emissions, aggregation)
        for sc in scenarios
    ]
    table = pd.concat(frames, ignore_index=True)
    geoms = regions.geometry.to_numpy()[table["region_index"].to_numpy()]
    table = table.drop(columns="region_index")
    return gpd.GeoDataFrame(table, geometry=list(geoms), crs=regions.crs)


def _scenario_totals(
    sc: Scenario, base: pd.DataFrame, sums: ZonalSums, aggregation: Aggregation = "correlated"
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One scenario's totals per (region, group), and the names of its summed columns.

    Parameters
    ----------
    sc : Scenario
        The scenario.
    base : pandas.DataFrame
        Rows per (region, group) with the area and the SOC stock columns.
    sums : ZonalSums
        Computed sums (see :func:`zonal_table`).
    aggregation : {"correlated", "independent"}
        See :func:`zonal_table`.

    Returns
    -------
    pandas.DataFrame, list of str, list of str
        The frame, its summed columns, and the hidden columns summed on ``all`` rows.
    """
    stock = LayerKey("soc_stock")
    bounds: list[Bound] = [b for b in _BOUNDS if stock.at(b) in sums.layers]
    frame = base[
        [
            "region_index",
            "region_id",
            "landuse",
            "area_ha",
            "soc_stock_t",
            "soc_stock_min",
            "soc_stock_max",
        ]
    ].copy()
    key = LayerKey("sequestration", sc.name)
    frame["sequestration_t_per_yr"] = sums.column(key)
    frame["co2e_t_per_yr"] = frame["sequestration_t_per_yr"] * sc.co2e_factor
    gain_cols = [f"gain_{y}_t" for y in sc.horizons]
    for year, col in zip(sc.horizons, gain_cols, strict=True):
        frame[col] = sums.column(LayerKey(f"gain_{year}", sc.name))
    sum_cols = ["area_ha", "soc_stock_t", "sequestration_t_per_yr", "co2e_t_per_yr", *gain_cols]
    for b in bounds:
        # Bounds of every total, from the bound stocks through the same projection.
        frame[f"soc_stock_t_{b}"] = sums.column(stock.at(b))
        frame[f"sequestration_t_per_yr_{b}"] = sums.column(key.at(b))
        frame[f"co2e_t_per_yr_{b}"] = frame[f"sequestration_t_per_yr_{b}"] * sc.co2e_factor
        for year in sc.horizons:
            frame[f"gain_{year}_t_{b}"] = sums.column(LayerKey(f"gain_{year}", sc.name, b))
        sum_cols += [
            f"soc_stock_t_{b}",
            f"sequestration_t_per_yr_{b}",
            f"co2e_t_per_yr_{b}",
            *(f"gain_{y}_t_{b}" for y in sc.horizons),
        ]
    if sc.saturation is not None:
        frame["area_at_saturation_ha"] = sums.column(LayerKey("at_saturation", sc.name))
        frame["area_without_saturation_data_ha"] = sums.column(
            LayerKey("no_saturation_data", sc.name)
        )
        sum_cols += ["area_at_saturation_ha", "area_without_saturation_data_ha"]
    hidden: list[str] = []
    if bounds and aggregation == "independent":
        quantities = [
            ("soc_stock_t", "soc_stock", None),
            ("sequestration_t_per_yr", "sequestration", sc.name),
            *((f"gain_{y}_t", f"gain_{y}", sc.name) for y in sc.horizons),
        ]
        hidden = hidden_columns(frame, sums.column, quantities)
    return frame, sum_cols, hidden


def _scenario_frame(
    sc: Scenario,
    base: pd.DataFrame,
    sums: ZonalSums,
    regions: gpd.GeoDataFrame,
    region_area: np.ndarray,
    emissions: np.ndarray | None,
    aggregation: Aggregation = "correlated",
) -> pd.DataFrame:
    """One scenario's rows of the zonal table (``all`` rows included), in column order.

    Parameters
    ----------
    sc : Scenario
        The scenario.
    base : pandas.DataFrame
        Rows per (region, group) with the area and the SOC stock columns.
    sums, regions, region_area
        As for :func:`zonal_table`.
    emissions : numpy.ndarray, optional
        Each region's emissions (t CO2e yr-1), when the run reports offset shares.
    aggregation : {"correlated", "independent"}
        See :func:`zonal_table`.
    """
    frame, sum_cols, hidden = _scenario_totals(sc, base, sums, aggregation)
    several_groups = len(sums.groups) > 1
    if several_groups:
        frame = summarise_groups(
            frame,
            [*sum_cols, *hidden],
            min_columns=["soc_stock_min"],
            max_columns=["soc_stock_max"],
        )
    if hidden:
        totals = ["soc_stock_t", "sequestration_t_per_yr", *(f"gain_{y}_t" for y in sc.horizons)]
        frame = apply_independent(frame, totals, sc.co2e_factor)
    frame["eligible"] = frame["landuse"].isin(sc.eligible) | (frame["landuse"] == ALL_LAND)
    if several_groups:
        # An `all` row is eligible when any eligible land with data is in the region.
        has = frame[frame["eligible"] & (frame["area_ha"] > 0)]["region_index"].unique()
        is_all = frame["landuse"] == "all"
        frame.loc[is_all, "eligible"] = frame.loc[is_all, "region_index"].isin(has)
    if sc.rate_raster is None:
        frame["rate_per_yr"] = frame["landuse"].map(sc.rate_for).where(frame["landuse"] != "all")
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["soc_mean_t_per_ha"] = frame["soc_stock_t"] / frame["area_ha"]
        if sc.saturation is not None:
            frame["saturated_share"] = frame["area_at_saturation_ha"] / frame["area_ha"]
    ri = frame["region_index"].to_numpy()
    frame["region_area_ha"] = region_area[ri]
    label = "all" if several_groups else sums.groups[0]
    covered = frame[frame["landuse"] == label]
    covered_ha = np.zeros(len(region_area))
    covered_ha[covered["region_index"].to_numpy()] = covered["area_ha"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["covered_share"] = np.where(
            region_area[ri] > 0, covered_ha[ri] / region_area[ri], np.nan
        )
        if sums.extent_ha is not None:
            frame["extent_share"] = np.where(
                region_area[ri] > 0, sums.extent_ha[ri] / region_area[ri], np.nan
            )
        if emissions is not None:
            frame["emissions_t_co2e_per_yr"] = emissions[ri]
            frame["offset_share"] = frame["co2e_t_per_yr"] / emissions[ri]
    frame["region_name"] = regions["region_name"].to_numpy()[ri]
    frame["scenario"] = sc.name
    lead = ["region_id", "region_name", "landuse", *sum_cols]
    rest = [c for c in _TRAILING if c in frame.columns]
    return frame[lead + rest]


def zonal_units(scenarios: Sequence[Scenario], depth: str | None = None) -> dict[str, str]:
    """Units of the zonal table's numeric columns (written into run.json and the GPKG).

    Parameters
    ----------
    scenarios : sequence of Scenario
    depth : str, optional
        The stock's depth range in cm (``"0-30"``): the carbon columns' units then say
        it (``"t C (0-30 cm)"``), as the band descriptions and run.json do.
    """
    units = {
        "area_ha": "ha",
        "soc_stock_t": "t C",
        "sequestration_t_per_yr": "t C yr-1",
        "co2e_t_per_yr": "t CO2e yr-1",
        "rate_per_yr": "yr-1",
        "soc_mean_t_per_ha": "t C ha-1",
        "soc_stock_min": "t C ha-1",
        "soc_stock_max": "t C ha-1",
        "region_area_ha": "ha",
        "covered_share": "1",
        "extent_share": "1",
        "area_at_saturation_ha": "ha",
        "area_without_saturation_data_ha": "ha",
        "saturated_share": "1",
        "emissions_t_co2e_per_yr": "t CO2e yr-1",
        "offset_share": "1",
    }
    units.update({f"gain_{y}_t": "t C" for sc in scenarios for y in sc.horizons})
    for b in ("lower", "upper"):
        units.update(
            {
                f"{k}_{b}": v
                for k, v in list(units.items())
                if k.startswith(("soc_stock_t", "sequestration", "co2e", "gain_"))
                and not k.endswith(("_lower", "_upper"))
            }
        )
    if depth:
        carbon = ("soc_", "sequestration", "co2e_t", "gain_")
        units = {k: f"{v} ({depth} cm)" if k.startswith(carbon) else v for k, v in units.items()}
    return units
