"""The report's answer and figures for a ``soilmap gsocseq`` comparison folder."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from soilmap.plot.charts import gsocseq_comparison, region_bars
from soilmap.plot.maps import raster_map
from soilmap.report.html import e, table
from soilmap.report.summary import fmt

__all__ = ["gsocseq_answer", "gsocseq_figures", "gsocseq_regions"]


def _scenarios(manifest: dict[str, Any]) -> list[str]:
    return [str(t["scenario"]) for t in manifest.get("totals", [])]


def _value(key: str, scenario: str, value: float, unit: str) -> str:
    """A number of the answer, with its exact value for machines (``data-value``)."""
    return (
        f'<span class="num" data-key="{e(key)}" data-scenario="{e(scenario)}" '
        f'data-value="{float(value)!r}">{fmt(value)} {e(unit)}</span>'
    )


def gsocseq_answer(manifest: dict[str, Any]) -> str:
    """Whole-raster target and modelled sequestration per GSOCseq scenario."""
    rate = manifest.get("parameters", {}).get("rate")
    items = []
    for t in manifest.get("totals", []):
        sc = str(t["scenario"])
        share = t.get("share_of_target")
        items.append(
            f"<li><b>{e(sc)}</b>: on {fmt(t['area_ha'])} ha holding "
            f"{fmt(t['t0_stock_t'])} t C, the {e(rate)} target is "
            + _value("target_t_per_yr", sc, t["target_t_per_yr"], "t C/yr")
            + "; GSOCseq models "
            + _value("modelled_t_per_yr", sc, t["modelled_t_per_yr"], "t C/yr")
            + (f" ({share:.1%} of the target)." if share is not None else ".")
            + "</li>"
        )
    return (
        "<p><b>The question.</b> How does FAO GSOCseq's modelled sequestration compare with the "
        f"4 per 1000 target (rate {e(rate)} of the T0 stock)?</p>"
        '<p class="answer"><b>The answer</b> (whole raster: the cells where T0 and every '
        "scenario have data):</p>"
        '<ul class="answer">' + "".join(items) + "</ul>"
    )


def gsocseq_regions(comparison: pd.DataFrame, top: int = 20) -> str:
    """Share of the target per region and scenario: the ``top`` regions by target.

    Regions are ordered by their 4 ‰ target (t C yr-1); the remaining regions are
    summed in one row (the share of sums, not a mean of shares).
    """
    if not len(comparison):
        return ""
    scenarios = list(dict.fromkeys(comparison["scenario"].astype(str)))
    sc_of = comparison["scenario"].astype(str)
    ids_of = comparison["region_id"].astype(str)
    first = comparison[sc_of == scenarios[0]]
    ids = first["region_id"].astype(str).to_numpy()
    names = dict(zip(ids, first["region_name"].fillna("").astype(str), strict=True))
    target = pd.Series(first["target_t_per_yr"].to_numpy(float), index=ids)
    ordered = list(target.sort_values(ascending=False, kind="stable").index)
    groups = [(f"{names[i]} ({i})", [i]) for i in ordered[:top]]
    if len(ordered) > top:
        groups.append((f"rest ({len(ordered) - top} regions)", ordered[top:]))
    rows = []
    for label, picked in groups:
        row: list[object] = [label, fmt(float(target[picked].sum()))]
        for sc in scenarios:
            part = comparison[(sc_of == sc) & ids_of.isin(picked)]
            t, m = float(part["target_t_per_yr"].sum()), float(part["modelled_t_per_yr"].sum())
            row.append(f"{m / t:.1%}" if t > 0 and np.isfinite(m) else "n/a")
        rows.append(row)
    return (
        "<h2>Share of the target per region</h2>"
        '<p class="meta">GSOCseq modelled sequestration over the 4 per 1000 target, per region '
        f"(the {min(top, len(ordered))} with the largest target, then the rest summed), from the "
        "gsocseq_comparison table.</p>"
        + table(
            ("region", "target (t C/yr)", *(f"{sc}" for sc in scenarios)),
            rows,
            frozenset(range(1, 2 + len(scenarios))),
        )
    )


def gsocseq_figures(
    folder: Path, manifest: dict[str, Any], table: pd.DataFrame, regions: Any
) -> list[tuple[str, str, Callable[[], Any]]]:
    """Maps (target, first and last scenario's share), the target/modelled chart, regions."""
    figs: list[tuple[str, str, Callable[[], Any]]] = []
    scenarios = _scenarios(manifest) or sorted(
        p.stem.removeprefix("share_") for p in folder.glob("share_*.tif")
    )
    stems = ["target_rate", *dict.fromkeys(f"share_{sc}" for sc in scenarios[:1] + scenarios[-1:])]
    captions = {
        "target_rate": "The 4 per 1000 target: rate x T0 stock, per hectare",
        **{
            f"share_{sc}": f"Share of the target GSOCseq {sc} attains (1 = target)"
            for sc in scenarios
        },
    }
    for stem in stems:
        path = folder / f"{stem}.tif"
        if path.exists():
            figs.append((f"map_{stem}", captions[stem], partial(raster_map, path, regions=regions)))
    totals = pd.DataFrame(manifest.get("totals", []))
    if len(totals):
        figs.append(
            (
                "gsocseq",
                "GSOCseq modelled sequestration and the 4 per 1000 target",
                lambda: gsocseq_comparison(totals),
            )
        )
    rows = table.assign(landuse="all")
    last = scenarios[-1] if scenarios else None
    figs.append(
        (
            "regions",
            f"GSOCseq modelled sequestration per region, {last} (top 20, then the rest)",
            lambda: region_bars(
                rows,
                column="modelled_t_per_yr",
                scenario=last,
                title="GSOCseq modelled sequestration per region",
            ),
        )
    )
    return figs
