"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from soilmap.options import CODECS
from soilmap.pipeline.run import RunResult
from soilmap.progress import Progress, ProgressEvent, progress_bar

__all__ = [
    "cluster_options",
    "compress_option",
    "duplicate_ids_option",
    "json_progress",
    "progress_option",
    "regions_crs_option",
    "report",
    "report_checks",
    "show_progress",
]

#: ``--regions-crs``: the CRS of a regions file that has none.
regions_crs_option = click.option(
    "--regions-crs", help="CRS of a regions file that has none (e.g. EPSG:4326)."
)


def duplicate_ids_option(default: str | None = "error") -> Callable[[Any], Any]:
    """``--duplicate-ids``; ``default=None`` lets a config file's value stand."""
    return click.option(
        "--duplicate-ids",
        type=click.Choice(["error", "suffix", "dissolve"]),
        default=default,
        show_default=default is not None,
        help="Region ids that repeat: fail, number the repeats (ID#2, ID#3 ...) or merge "
        "their polygons into one region" + ("." if default is not None else " [default: error]."),
    )


def compress_option(default: str | None = "deflate") -> Callable[[Any], Any]:
    """``--compress``; ``default=None`` lets a config file's value stand."""
    return click.option(
        "--compress",
        type=click.Choice(list(CODECS)),
        default=default,
        show_default=default is not None,
        help="Raster codec (with a predictor)"
        + ("" if default is not None else " [default: deflate]")
        + ".",
    )


def cluster_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--scheduler``, ``--workers`` and ``--memory-limit``: where and within what it runs."""
    f = click.option(
        "--memory-limit",
        metavar="SIZE",
        help="Memory ceiling, e.g. 4GB: chunks are sized to stay within it (per worker with "
        "--workers).",
    )(f)
    f = click.option("--workers", type=int, help="Start a local cluster of N worker processes.")(f)
    return click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on an existing Dask cluster, e.g. tcp://host:8786 (dask-jobqueue, "
        "Kubernetes, Coiled ...). Inputs and --out must be on a file system every worker sees.",
    )(f)


def _remember_progress(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta["soilmap.progress"] = value
    return value


#: ``--progress``: how a command shows its progress.
progress_option = click.option(
    "--progress",
    "progress_mode",
    type=click.Choice(["auto", "bar", "json", "none"]),
    default="auto",
    show_default=True,
    expose_value=False,
    callback=_remember_progress,
    help="auto: a bar on a terminal; bar: always; json: one JSON object per line on "
    "stdout (stage, done, total, message) for other programs (the QGIS provider); none.",
)


def json_progress(event: ProgressEvent) -> None:
    """Write ``event`` as one JSON line on stdout (the ``--progress json`` stream)."""
    sys.stdout.write(json.dumps(event.to_dict()) + "\n")
    sys.stdout.flush()


def progress_mode(ctx: click.Context) -> str:
    """The ``--progress`` of the command being run (``auto`` when it has none)."""
    return str(ctx.meta.get("soilmap.progress", "auto"))


def show_progress(ctx: click.Context) -> bool | Progress:
    """The ``progress=`` for the library: by ``--progress``; never a bar with --quiet."""
    mode = progress_mode(ctx)
    if mode == "json":
        return json_progress
    quiet = (ctx.find_root().obj or {}).get("quiet", False)
    if mode == "none" or quiet:
        return False
    return progress_bar() if mode == "bar" or sys.stderr.isatty() else False


def report(result: RunResult, quiet: bool) -> None:
    """Print where the outputs went, the totals per scenario and the 10 largest regions.

    Everything per region stays in the files (the zonal table, report.html); with
    overlapping regions (a country and its provinces) no total is printed, as it
    would count the shared land twice.
    """
    if quiet:
        return
    from soilmap.report import headline, regions_overlap

    # With --progress json, stdout is the machine-readable stream.
    ctx = click.get_current_context(silent=True)
    err = ctx is not None and progress_mode(ctx) == "json"
    t = result.zonal
    out = result.out_dir
    click.echo(f"wrote {len(result.outputs)} files to {out}", err=err)
    overlap = regions_overlap(t[t["landuse"] == "all"].drop_duplicates("region_id"))
    for h in headline(t):
        v = h.values
        if overlap:
            break
        click.echo(
            f"  scenario {h.scenario}, {len(h.regions)} regions: eligible land "
            f"{v['area_ha']:,.0f} ha, SOC {v['soc_stock_t'] / 1e6:,.3f} Mt C, potential "
            f"{v['sequestration_t_per_yr']:,.0f} t C/yr ({v['co2e_t_per_yr']:,.0f} t CO2e/yr)",
            err=err,
        )
    if overlap:
        click.echo(f"  regions overlap ({overlap[0][0]} and {overlap[0][1]}): no total", err=err)
    groups = t[(t["landuse"] != "all") & t["eligible"]]
    first = t["scenario"].iloc[0]
    per_region = groups[groups["scenario"] == first].groupby("region_id", sort=False)
    top = per_region["sequestration_t_per_yr"].sum().sort_values(ascending=False)
    n = len(top)
    click.echo(
        f"  {'the ' + str(min(n, 10)) + ' largest' if n > 10 else 'the'} regions"
        f" by potential (scenario {first}):",
        err=err,
    )
    names = t.drop_duplicates("region_id").set_index("region_id")["region_name"]
    for rid in top.index[:10]:
        rows = per_region.get_group(rid)
        click.echo(
            f"    {rid} {names[rid]}: eligible land {rows['area_ha'].sum():,.0f} ha, "
            f"SOC {rows['soc_stock_t'].sum() / 1e6:,.3f} Mt C, potential "
            f"{rows['sequestration_t_per_yr'].sum():,.0f} t C/yr "
            f"({rows['co2e_t_per_yr'].sum():,.0f} t CO2e/yr)",
            err=err,
        )
    click.echo(
        f"  every region, group and scenario: {out / 'zonal_stats.csv'} "
        f"(map: {out / 'zonal_stats.gpkg'}, layer regions; report: {out / 'report.html'})",
        err=err,
    )


def report_checks(result: RunResult, quiet: bool) -> None:
    """Print what the value checks found, per scenario: eligible area, the share of each
    region with SOC data, the cells each cleaning rule removed; then the warnings."""
    vc = result.manifest.get("value_checks") or {}
    if quiet or not vc:
        return
    # With --progress json, stdout is the machine-readable stream.
    ctx = click.get_current_context(silent=True)
    err = ctx is not None and progress_mode(ctx) == "json"
    shown = 10
    for s in vc.get("scenarios", []):
        name = s["scenario"]
        absent = s.get("eligible_groups_absent") or []
        none = f" (no cell in eligible group(s) {', '.join(absent)})" if absent else ""
        click.echo(
            f"  scenario {name}: eligible area {s['eligible_area_ha']:,.0f} ha{none}", err=err
        )
        shares = s["regions_share_with_soc_data"]
        order = sorted(shares, key=lambda r: -1.0 if shares[r] is None else shares[r])
        listed = ", ".join(
            f"{r} {'no area' if shares[r] is None else format(shares[r], '.1%')}"
            for r in order[:shown]
        )
        more = f" ... and {len(order) - shown} more (run.json)" if len(order) > shown else ""
        click.echo(f"  scenario {name}: share with SOC data, lowest first: {listed}{more}", err=err)
        removed = s.get("cells_removed_by_rule") or {}
        cells = ", ".join(f"{k} {n:,}" for k, n in removed.items()) or "none (no rule)"
        click.echo(f"  scenario {name}: cells removed by cleaning rules: {cells}", err=err)
    zeros = {g: n for g, n in (vc.get("zero_stock_cells_by_group") or {}).items() if n}
    if zeros:
        click.echo(
            "  exact zeros in the SOC stock, per land-use group: "
            + ", ".join(f"{g} {n:,.6g} cells" for g, n in zeros.items()),
            err=err,
        )
    for w in vc.get("warnings", []):
        click.echo(f"  warning: {w}", err=True)
