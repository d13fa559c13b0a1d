"""Build ``report.html`` and ``figures/*.png`` from a result folder.

>>> from soilmap.report import write_report
>>> write_report  # doctest: +ELLIPSIS
<function write_report at ...>
"""

from __future__ import annotations

import datetime
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from soilmap.errors import InputError
from soilmap.plot.charts import horizon_gains, landuse_bars, region_bars, region_totals
from soilmap.plot.maps import raster_map
from soilmap.plot.read import read_regions_layer, read_zonal
from soilmap.report.html import e, figure, page, table
from soilmap.report.rothc import rothc_section
from soilmap.report.summary import Headline, fmt, headline, regions_overlap

__all__ = ["REPORT", "write_report"]

#: The report's file name in a result folder.
REPORT = "report.html"
_GSOCSEQ_TABLE = "gsocseq_comparison"


def _png(draw: Callable[[], Any]) -> bytes:
    """Run ``draw`` (which makes one figure) and return the figure as PNG bytes."""
    # No backend switch: a notebook keeps its inline backend (without a display,
    # matplotlib picks Agg by itself); the figures are closed before anything shows them.
    import matplotlib.pyplot as plt

    with plt.ioff():
        before = set(plt.get_fignums())
        draw()
        new = [n for n in plt.get_fignums() if n not in before]
        fig = plt.figure(new[-1])
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        for n in new:
            plt.close(n)
    return buf.getvalue()


def _number(value: float, key: str, scenario: str, unit: str) -> str:
    """A headline number, with its exact value for machines (``data-value``)."""
    return (
        f'<span class="num" data-key="{e(key)}" data-scenario="{e(scenario)}" '
        f'data-value="{value!r}">{fmt(value)} {e(unit)}</span>'
    )


def _bounded(h: Headline, key: str, unit: str) -> str:
    text = _number(h.values[key], key, h.scenario, unit)
    if key in h.bounds:
        lo, hi = h.bounds[key]
        text += f" ({fmt(lo)} to {fmt(hi)})"
    return text


def _sentence(h: Headline, where: str) -> str:
    v = dict(h.values)
    return (
        f"<li><b>Scenario {e(h.scenario)}</b>, {e(where)}: on "
        f"{_bounded(h, 'area_ha', 'ha')} of eligible land holding "
        f"{_bounded(h, 'soc_stock_t', 't C')}, the soils would take up "
        f"{_bounded(h, 'sequestration_t_per_yr', 't C/yr')}, that is "
        f"{_bounded(h, 'co2e_t_per_yr', 't CO2e/yr')}"
        + (
            f" ({v['sequestration_t_per_yr'] / v['area_ha']:.3g} t C/ha/yr)."
            if v["area_ha"]
            else "."
        )
        + "</li>"
    )


def _answer(zonal: pd.DataFrame, regions: Any, manifest: dict[str, Any]) -> str:
    """The question and the answer: totals per scenario, or per region if regions overlap."""
    scenarios = manifest.get("parameters", {}).get("scenarios", [])
    rates = ", ".join(f"{s['name']}: rate {s.get('rate')}" for s in scenarios)
    overlap = regions_overlap(regions) if regions is not None else []
    intro = (
        "<p><b>The question.</b> If the soils of these regions gained a share of their organic "
        f"carbon stock every year ({e(rates) or '4 per 1000'}), how much carbon and CO2 would "
        "that be, and on which land?</p>"
    )
    items = []
    if overlap:
        a, b = overlap[0]
        note = (
            f"<p>The regions overlap ({e(a)} and {e(b)}"
            + (f" and {len(overlap) - 1} more pairs" if len(overlap) > 1 else "")
            + "), so a total would count the shared land twice: each region is given on its own "
            "(the 10 with the largest potential).</p>"
        )
        all_rows = region_totals(zonal)
        order = all_rows.groupby("region_id", sort=False)["sequestration_t_per_yr"].max()
        for rid in order.sort_values(ascending=False).index[:10]:
            name = zonal.loc[zonal["region_id"] == rid, "region_name"].iloc[0]
            for h in headline(zonal, [str(rid)]):
                items.append(
                    _sentence(h, f"{name} ({rid})").replace(
                        'class="num"', f'class="num" data-region="{e(rid)}"'
                    )
                )
    else:
        n = zonal["region_id"].nunique()
        note = ""
        for h in headline(zonal):
            items.append(
                _sentence(h, f"over the {n} regions").replace(
                    'class="num"', 'class="num" data-region="*"'
                )
            )
    return (
        intro
        + '<p class="answer"><b>The answer.</b></p><ul class="answer">'
        + "".join(items)
        + "</ul>"
        + note
        + '<p class="meta">Bounds (in brackets) come from the SOC input\'s lower and upper '
        "layers when the run has them. Per-hectare potential is over the eligible area.</p>"
    )


@dataclass(frozen=True)
class _Figure:
    """One figure of the report: its file stem, caption, how to draw it, what it reads."""

    name: str
    caption: str
    draw: Callable[[], Any]
    #: The raster it maps (None: a chart of the tables, or a map known to exist).
    raster: Path | None = None


def _scenario_dirs(folder: Path, manifest: dict[str, Any]) -> list[tuple[str, Path]]:
    names = [s["name"] for s in manifest.get("parameters", {}).get("scenarios", [])]
    if len(names) > 1:
        return [(n, folder / n) for n in names]
    return [(names[0] if names else "", folder)]


def _run_figures(
    folder: Path, manifest: dict[str, Any], zonal: pd.DataFrame, regions: Any
) -> list[_Figure]:
    """Every figure of a ``soilmap run`` folder, in the page's order."""
    figs: list[_Figure] = []
    first, sdir = _scenario_dirs(folder, manifest)[0]
    maps = [
        ("map_soc_stock", folder / "soc_stock.tif", "Initial SOC stock"),
        ("map_landuse", folder / "landuse.tif", "Land-use groups (dominant group per cell)"),
        (
            "map_sequestration_rate",
            sdir / "sequestration_rate.tif",
            f"Annual sequestration potential{f', scenario {first}' if first else ''}",
        ),
    ]
    for name, path, caption in maps:
        draw = partial(raster_map, path, regions=regions, title=caption)
        figs.append(_Figure(name, caption, draw, raster=path))
    figs.append(
        _Figure(
            "regions", "Potential per region (top 20, then the rest)", lambda: region_bars(zonal)
        )
    )
    overlap = regions_overlap(regions) if regions is not None else []
    largest = None
    if overlap:
        alls = region_totals(zonal)
        largest = [str(alls.sort_values("area_ha").iloc[-1]["region_id"])]
    figs.append(
        _Figure(
            "landuse",
            "Area and potential per land-use group"
            + (f" (region {largest[0]}: the regions overlap)" if largest else ""),
            lambda: landuse_bars(zonal, regions=largest),
        )
    )
    starts = {s["name"]: s["start_year"] for s in manifest["parameters"].get("scenarios", [])}
    figs.append(
        _Figure(
            "horizons",
            "Cumulative gains by horizon, per scenario",
            lambda: horizon_gains(zonal, start_years=starts, regions=largest),
        )
    )
    return figs


def _details(manifest: dict[str, Any]) -> str:
    """Cleaning counts, assumptions, inputs with checksums, software versions."""
    parts = []
    soc = manifest.get("soc_inputs") or {}
    cleaning = soc.get("cleaning") or []
    if cleaning:
        rows = [
            (
                c.get("layer"),
                ", ".join(map(str, c.get("rules") or [])) or "none",
                f"{int(c.get('cells_removed', 0)):,}",
            )
            for c in cleaning
        ]
        parts.append(
            "<h2>Cleaning</h2>" + table(("layer", "rules", "cells removed"), rows, frozenset({2}))
        )
    elif manifest.get("cleaning"):
        rows = [
            (
                k,
                v.get("rule", "") if isinstance(v, dict) else "",
                ", ".join(f"{a}: {b:,}" for a, b in v.items() if isinstance(b, int))
                if isinstance(v, dict)
                else v,
            )
            for k, v in manifest["cleaning"].items()
        ]
        parts.append("<h2>Cleaning</h2>" + table(("layer", "rule", "cells"), rows))
    assumptions = [*manifest.get("assumptions", []), *soc.get("assumptions", [])]
    lc = manifest.get("landcover") or {}
    if lc.get("note"):
        assumptions.append(lc["note"])
    assumptions += soc.get("conversions", [])
    parts.append(
        "<h2>Assumptions and conversions</h2><ul>"
        + "".join(f"<li>{e(a)}</li>" for a in dict.fromkeys(assumptions))
        + "</ul>"
    )
    inputs = manifest.get("inputs", [])
    parts.append(
        "<h2>Inputs</h2>"
        + table(
            ("file", "bytes", "SHA-256"),
            [
                (i.get("path"), f"{int(i.get('size_bytes') or 0):,}", i.get("sha256", ""))
                for i in inputs
            ],
            frozenset({1}),
        ).replace("<td>", '<td class="hash">')
    )
    soft = manifest.get("software", {})
    parts.append("<h2>Software</h2>" + table(("package", "version"), list(soft.items())))
    return "".join(parts)


def _draw(
    figs: list[_Figure], where: Callable[[str], Path], ready: Callable[[Path], bool]
) -> tuple[list[Path], list[str]]:
    """Draw and write every figure; the PNGs written and the page's figure blocks.

    The charts go first: a run draws them while its COGs are still being written.
    Maps of rasters that do not exist are left out.
    """
    pngs = {}
    for f in sorted(figs, key=lambda f: f.raster is not None):
        if f.raster is None or ready(f.raster):
            pngs[f.name] = _png(f.draw)
    written, blocks = [], []
    for f in figs:
        if f.name not in pngs:
            continue
        target = where(f"figures/{f.name}.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pngs[f.name])
        written.append(target)
        blocks.append(figure(pngs[f.name], f.caption, f.name))
    return written, blocks


def write_report(
    folder: str | os.PathLike,
    *,
    path_for: Callable[[str], Path] | None = None,
    manifest: dict[str, Any] | None = None,
    ready: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Write ``report.html`` and ``figures/*.png`` for the result folder ``folder``.

    Parameters
    ----------
    folder : path-like
        A ``soilmap run`` or ``soilmap gsocseq`` output folder (with ``run.json``).
    path_for : callable, optional
        Where to write each file name (``"report.html"``, ``"figures/x.png"``);
        default: inside ``folder``.  A run passes its staging folder's.
    manifest : dict, optional
        The folder's ``run.json`` content (default: read from it).  A run passes
        its own before writing ``run.json``, which holds the run's timings.
    ready : callable, optional
        ``ready(path)``: wait until the raster ``path`` is written, and whether it
        exists (default: whether it exists).  A run passes one that waits for the
        COG copy in progress; the charts, which need only the tables, are drawn
        first, meanwhile.

    Returns
    -------
    list of pathlib.Path
        Every file written.

    Raises
    ------
    soilmap.errors.InputError
        If ``folder`` is not a result folder (no ``run.json``).
    """
    d = Path(folder)
    where = path_for or (lambda name: d / name)
    if manifest is None:
        if not (d / "run.json").exists():
            raise InputError(
                f"{d}: no run.json, so this is not a soilmap output folder "
                "(give the --out folder of a run)."
            )
        manifest = json.loads((d / "run.json").read_text(encoding="utf-8"))
    gsocseq = "soilmap_gsocseq_comparison" in manifest
    stem = _GSOCSEQ_TABLE if gsocseq else "zonal_stats"
    zonal = read_zonal(d, stem)
    regions = read_regions_layer(d, stem)
    if gsocseq:
        from soilmap.report.gsocseq import gsocseq_answer, gsocseq_figures, gsocseq_regions

        answer = gsocseq_answer(manifest) + gsocseq_regions(zonal)
        figs = [_Figure(*f) for f in gsocseq_figures(d, manifest, zonal, regions)]
    else:
        answer = _answer(zonal, regions, manifest)
        figs = _run_figures(d, manifest, zonal, regions)
    written, blocks = _draw(figs, where, ready or Path.exists)
    title = (
        "soilmap: GSOCseq and the 4 per 1000 target" if gsocseq else "soilmap: 4 per 1000 potential"
    )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    # A run builds the report in its hidden staging folder inside the output folder:
    # the page names the output folder.
    shown = d.resolve()
    if shown.name.startswith(".soilmap-staging-"):
        shown = shown.parent
    body = (
        f'<h1>{e(title)}</h1><p class="meta">{e(shown.name)} · report written {now} '
        f"from run.json, the {stem} table and the rasters' overviews.</p>"
        + answer
        + "<h2>Maps and charts</h2>"
        + "".join(blocks)
        + rothc_section(d)
        + _details(manifest)
    )
    report = where(REPORT)
    tmp = report.with_name(f".{REPORT}.tmp")
    tmp.write_text(page(title, body), encoding="utf-8")
    os.replace(tmp, report)
    return [report, *written]
