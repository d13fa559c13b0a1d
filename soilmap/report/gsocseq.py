"""The report's answer and figures for a ``soilmap gsocseq`` comparison folder."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from soilmap.plot.charts import gsocseq_comparison, region_bars
from soilmap.plot.maps import raster_map
from soilmap.report.html import e
from soilmap.report.summary import fmt

__all__ = ["gsocseq_answer", "gsocseq_figures"]


def gsocseq_answer(manifest: dict[str, Any]) -> str:
    """Whole-raster target and modelled sequestration per GSOCseq scenario."""
    rate = manifest.get("parameters", {}).get("rate")
    items = []
    for t in manifest.get("totals", []):
        share = t.get("share_of_target")
        items.append(
            f"<li><b>{e(t['scenario'])}</b>: on {fmt(t['area_ha'])} ha holding "
            f"{fmt(t['t0_stock_t'])} t C, the {e(rate)} target is "
            f'<span class="num" data-key="target_t_per_yr" data-scenario="{e(t["scenario"])}" '
            f'data-value="{float(t["target_t_per_yr"])!r}">'
            f"{fmt(t['target_t_per_yr'])} t C/yr</span>"
            f"; GSOCseq models {fmt(t['modelled_t_per_yr'])} t C/yr"
            + (f" ({share:.1%} of the target)." if share is not None else ".")
            + "</li>"
        )
    return (
        "<p><b>The question.</b> How does FAO GSOCseq's modelled sequestration compare with the "
        f"4 per 1000 target (rate {e(rate)} of the T0 stock)?</p>"
        '<p class="answer"><b>The answer</b> (whole raster):</p><ul class="answer">'
        + "".join(items)
        + "</ul>"
    )


def gsocseq_figures(
    folder: Path, manifest: dict[str, Any], table: pd.DataFrame, regions: Any
) -> list[tuple[str, str, Callable[[], Any]]]:
    """Maps of the comparison rasters, the target/modelled chart and the per-region chart."""
    figs: list[tuple[str, str, Callable[[], Any]]] = []
    for path in sorted(folder.glob("*.tif"))[:3]:
        figs.append(
            (
                f"map_{path.stem}",
                path.stem,
                partial(raster_map, path, regions=regions, title=path.stem),
            )
        )
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
    figs.append(
        (
            "regions",
            "Modelled sequestration per region (top 20, then the rest)",
            lambda: region_bars(rows, column="modelled_t_per_yr"),
        )
    )
    return figs
