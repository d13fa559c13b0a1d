"""Options and helpers shared by the commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from soilmap.options import CODECS
from soilmap.pipeline.run import RunResult

__all__ = [
    "cluster_options",
    "compress_option",
    "duplicate_ids_option",
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


def show_progress(ctx: click.Context) -> bool:
    """Progress bars only on a terminal, never with --quiet."""
    return sys.stderr.isatty() and not (ctx.find_root().obj or {}).get("quiet", False)


def report(result: RunResult, quiet: bool) -> None:
    """Print where the outputs went and the headline totals."""
    if quiet:
        return
    t = result.zonal
    groups = t[t["landuse"] != "all"]
    eligible = groups[groups["eligible"]]
    click.echo(f"wrote {len(result.outputs)} files to {result.out_dir}")
    for rid, rows in eligible.groupby("region_id", sort=False):
        name = rows["region_name"].iloc[0]
        click.echo(
            f"  {rid} {name}: eligible land {rows['area_ha'].sum():,.0f} ha, "
            f"SOC {rows['soc_stock_t'].sum() / 1e6:,.3f} Mt C, potential "
            f"{rows['sequestration_t_per_yr'].sum():,.0f} t C/yr "
            f"({rows['co2e_t_per_yr'].sum():,.0f} t CO2e/yr)"
        )


def report_checks(result: RunResult, quiet: bool) -> None:
    """Print what the value checks found: cells removed per rule, eligible area, warnings."""
    vc = result.manifest.get("value_checks") or {}
    if quiet or not vc:
        return
    removed = {k: n for k, n in vc.get("cleaning_cells_removed", {}).items() if n}
    for key, n in removed.items():
        click.echo(f"  cleaning {key}: {n:,} cells removed")
    for r in vc.get("ranges", []):
        if r["cells_outside_range"]:
            click.echo(f"  {r['layer']}: {r['cells_outside_range']:,} implausible cells dropped")
    for s in vc.get("scenarios", []):
        shares = [v for v in s["regions_share_with_soc_data"].values() if v is not None]
        low = f", lowest region share with SOC data {min(shares):.1%}" if shares else ""
        click.echo(
            f"  scenario {s['scenario']}: eligible area {s['eligible_area_ha']:,.0f} ha{low}"
        )
    for w in vc.get("warnings", []):
        click.echo(f"  warning: {w}", err=True)
