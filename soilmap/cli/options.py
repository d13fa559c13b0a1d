"""Helpers shared by the commands."""

from __future__ import annotations

import sys

import click

from soilmap.pipeline import RunResult


def show_progress(ctx: click.Context) -> bool:
    """Progress bars only on a terminal, never with --quiet."""
    return sys.stderr.isatty() and not ctx.find_root().obj.get("quiet", False)


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
