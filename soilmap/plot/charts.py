"""Charts of the zonal table: regions (top 20 and the rest), land-use groups, horizons, GSOCseq."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "gsocseq_comparison",
    "horizon_gains",
    "landuse_bars",
    "region_bars",
    "region_totals",
    "top_and_rest",
]

_ALL = "all"


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1]


def top_and_rest(values: pd.Series, top: int = 20) -> pd.Series:
    """The ``top`` largest values, then one ``rest (n regions)`` entry summing the others.

    >>> top_and_rest(pd.Series({"a": 5.0, "b": 1.0, "c": 3.0, "d": 2.0}), top=2).to_dict()
    {'a': 5.0, 'c': 3.0, 'rest (2 regions)': 3.0}
    """
    ordered = values.sort_values(ascending=False, kind="stable")
    head = ordered.iloc[:top]
    if len(ordered) > top:
        rest = ordered.iloc[top:]
        head = pd.concat([head, pd.Series({f"rest ({len(rest)} regions)": float(rest.sum())})])
    return head


def region_totals(table: pd.DataFrame) -> pd.DataFrame:
    """One row per region and scenario: the ``all`` rows of the table.

    A table without them (a run without land cover has the single group
    ``all_land``) gives each region's sums over its groups: the amounts (``*_t``,
    ``*_ha``, ``*_t_per_yr``) add up, the other columns are the first group's.
    """
    totals = table[table["landuse"] == _ALL]
    if not totals.empty or table.empty:
        return totals
    keys = [c for c in ("scenario", "region_id") if c in table.columns]
    amounts = [
        c
        for c in table.columns
        if c not in keys
        and c != "region_area_ha"  # the region's own area, the same in every group
        and c.endswith(("_t", "_ha", "_t_per_yr"))
        and pd.api.types.is_numeric_dtype(table[c])
    ]
    grouped = table.groupby(keys, sort=False, dropna=False)
    out = grouped.first()
    out[amounts] = grouped[amounts].sum(min_count=1)
    return out.reset_index().assign(landuse=_ALL)


def _first_scenario(table: pd.DataFrame, scenario: str | None) -> tuple[pd.DataFrame, str]:
    sc = scenario if scenario is not None else str(table["scenario"].iloc[0])
    return table[table["scenario"] == sc], sc


def region_bars(
    table: pd.DataFrame,
    *,
    column: str = "sequestration_t_per_yr",
    scenario: str | None = None,
    top: int = 20,
    unit: str = "t C yr-1",
    ax: Any = None,
    title: str = "Potential per region",
) -> Any:
    """Horizontal bars of ``column`` per region (``all`` rows): the ``top`` largest and the rest.

    Regions are labelled ``name (id)``; the rest are summed in one bar.  ``title`` is
    followed by the scenario.
    """
    rows, sc = _first_scenario(table, scenario)
    rows = region_totals(rows)
    labels = rows["region_name"].fillna("").astype(str) + " (" + rows["region_id"].astype(str) + ")"
    values = top_and_rest(pd.Series(rows[column].to_numpy(dtype=float), index=labels), top)
    ax = _axes(ax, (7, 0.3 * len(values) + 1.2))
    ax.barh(range(len(values)), values.to_numpy(), color="#3a8d3f")
    ax.set_yticks(range(len(values)), values.index, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{column} ({unit})", fontsize=8)
    ax.set_title(f"{title}, scenario {sc}", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    return ax


def landuse_bars(
    table: pd.DataFrame,
    *,
    regions: Sequence[str] | None = None,
    scenario: str | None = None,
    ax: Any = None,
) -> Any:
    """Area (ha) and potential (t C yr⁻¹) per land-use group, summed over ``regions``.

    Eligible groups are drawn in green, the others in grey (they gain nothing).
    """
    rows, sc = _first_scenario(table, scenario)
    rows = rows[rows["landuse"] != _ALL]
    if regions is not None:
        rows = rows[rows["region_id"].isin(list(regions))]
    g = rows.groupby("landuse", sort=False).agg(
        area_ha=("area_ha", "sum"),
        seq=("sequestration_t_per_yr", "sum"),
        eligible=("eligible", "max"),
    )
    g = g.sort_values("area_ha", ascending=False)
    if ax is None:
        import matplotlib.pyplot as plt

        _, (a1, a2) = plt.subplots(1, 2, figsize=(9, 0.3 * len(g) + 1.6), sharey=True)
    else:
        a1, a2 = ax
    colours = np.where(g["eligible"].astype(bool), "#3a8d3f", "#9e9e9e")
    y = np.arange(len(g))
    a1.barh(y, g["area_ha"].to_numpy(), color=colours)
    a2.barh(y, g["seq"].to_numpy(), color=colours)
    a1.set_yticks(y, g.index, fontsize=8)
    a1.invert_yaxis()
    a1.set_xlabel("area (ha)", fontsize=8)
    a2.set_xlabel("potential (t C yr-1)", fontsize=8)
    a1.set_title("Land-use groups: area", fontsize=10)
    a2.set_title(f"potential, scenario {sc} (grey: not eligible)", fontsize=10)
    for a in (a1, a2):
        a.tick_params(axis="x", labelsize=8)
    return a1, a2


def horizon_gains(
    table: pd.DataFrame,
    *,
    start_years: dict[str, int] | None = None,
    regions: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """Cumulative gain (t C) by horizon year, one line per scenario (``all`` rows summed).

    With ``start_years`` each line starts at 0 in its scenario's start year.
    """
    ax = _axes(ax, (7, 4))
    rows = region_totals(table)
    if regions is not None:
        rows = rows[rows["region_id"].isin(list(regions))]
    cols = sorted(
        (c for c in table.columns if c.startswith("gain_") and c.endswith("_t")),
        key=lambda c: int(c.split("_")[1]),
    )
    for sc, part in rows.groupby("scenario", sort=False):
        years, gains = [], []
        if start_years and sc in start_years:
            years, gains = [start_years[str(sc)]], [0.0]
        for c in cols:
            total = part[c].sum(min_count=1)
            if np.isfinite(total):
                years.append(int(c.split("_")[1]))
                gains.append(float(total) / 1e6)
        ax.plot(years, gains, marker="o", label=str(sc))
    ax.set_xlabel("year", fontsize=8)
    ax.set_ylabel("cumulative gain (Mt C)", fontsize=8)
    ax.set_title("Gains over the horizons, per scenario", fontsize=10)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def gsocseq_comparison(totals: pd.DataFrame, *, ax: Any = None) -> Any:
    """The 4 ‰ target beside GSOCseq's modelled sequestration, per GSOCseq scenario.

    ``totals`` has ``scenario``, ``target_t_per_yr`` and ``modelled_t_per_yr`` (the
    ``totals`` of a ``soilmap gsocseq`` run.json, or the comparison table's rows).
    """
    ax = _axes(ax, (7, 4))
    t = totals.groupby("scenario", sort=False)[["target_t_per_yr", "modelled_t_per_yr"]].sum()
    x = np.arange(len(t))
    ax.bar(
        x - 0.2, t["target_t_per_yr"].to_numpy(), 0.4, label="4 per 1000 target", color="#9e9e9e"
    )
    ax.bar(
        x + 0.2, t["modelled_t_per_yr"].to_numpy(), 0.4, label="GSOCseq modelled", color="#3a8d3f"
    )
    ax.set_xticks(x, t.index, fontsize=8)
    ax.set_ylabel("t C yr-1", fontsize=8)
    ax.set_title("GSOCseq modelled sequestration and the 4 per 1000 target", fontsize=10)
    ax.legend(fontsize=8)
    return ax
