"""The numbers of the report's answer paragraph, from the zonal table."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["Headline", "headline", "regions_overlap"]

#: The headline quantities: (column of the zonal table, what it is, unit).
QUANTITIES = (
    ("area_ha", "eligible area", "ha"),
    ("soc_stock_t", "SOC stock on eligible land", "t C"),
    ("sequestration_t_per_yr", "potential", "t C yr-1"),
    ("co2e_t_per_yr", "potential", "t CO2e yr-1"),
)


@dataclass(frozen=True)
class Headline:
    """The totals of one scenario over a set of regions.

    Attributes
    ----------
    scenario : str
        The scenario.
    regions : tuple of str
        The region ids summed.
    values : dict of str to float
        ``area_ha``, ``soc_stock_t``, ``sequestration_t_per_yr``, ``co2e_t_per_yr``
        over the eligible land-use groups.
    bounds : dict of str to (float, float)
        Lower and upper bounds of those that have them.
    """

    scenario: str
    regions: tuple[str, ...]
    values: dict[str, float]
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)


def regions_overlap(regions: gpd.GeoDataFrame, tolerance: float = 1e-3) -> list[tuple[str, str]]:
    """Pairs of region ids whose polygons share more than ``tolerance`` of the smaller one.

    Totals over overlapping regions (a country and its provinces) count the shared
    land twice, so the report then gives the regions' numbers one by one.
    """
    geoms = shapely.make_valid(regions.geometry.to_numpy())
    ids = regions["region_id"].astype(str).to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = []
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        shared = shapely.area(shapely.intersection(geoms[i], geoms[j]))
        smaller = min(shapely.area(geoms[i]), shapely.area(geoms[j]))
        if smaller > 0 and shared > tolerance * smaller:
            pairs.append((str(ids[i]), str(ids[j])))
    return pairs


def headline(table: pd.DataFrame, regions: list[str] | None = None) -> list[Headline]:
    """Totals per scenario over ``regions`` (default: every region), eligible groups only.

    Examples
    --------
    >>> t = pd.DataFrame(
    ...     {
    ...         "region_id": ["A", "A", "A", "B", "B"],
    ...         "landuse": ["cropland", "excluded", "all", "cropland", "all"],
    ...         "eligible": [True, False, False, True, False],
    ...         "scenario": ["p4"] * 5,
    ...         "area_ha": [60.0, 40.0, 100.0, 10.0, 10.0],
    ...         "soc_stock_t": [3000.0, 1000.0, 4000.0, 500.0, 500.0],
    ...         "sequestration_t_per_yr": [12.0, 0.0, 12.0, 2.0, 2.0],
    ...         "co2e_t_per_yr": [44.0, 0.0, 44.0, 22 / 3, 22 / 3],
    ...     }
    ... )
    >>> h = headline(t)[0]
    >>> h.values["area_ha"], h.values["soc_stock_t"], h.values["sequestration_t_per_yr"]
    (70.0, 3500.0, 14.0)
    """
    rows = table[(table["landuse"] != "all") & table["eligible"].astype(bool)]
    if regions is not None:
        rows = rows[rows["region_id"].astype(str).isin(regions)]
    out = []
    for sc in dict.fromkeys(table["scenario"].astype(str)):
        part = rows[rows["scenario"].astype(str) == sc]
        values = {col: float(part[col].sum()) for col, _, _ in QUANTITIES}
        bounds = {}
        for col, _, _ in QUANTITIES:
            lo, hi = f"{col}_lower", f"{col}_upper"
            if lo in part and hi in part:
                bounds[col] = (float(part[lo].sum()), float(part[hi].sum()))
        ids = (
            tuple(dict.fromkeys(part["region_id"].astype(str)))
            if regions is None
            else tuple(regions)
        )
        out.append(Headline(sc, ids, values, bounds))
    return out


def fmt(value: float) -> str:
    """A number as the report prints it: thousands separated, 3 significant digits below 100.

    >>> fmt(1234567.8), fmt(12.345), fmt(0.012345), fmt(float("nan"))
    ('1,234,568', '12.3', '0.0123', 'n/a')
    """
    if not np.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
