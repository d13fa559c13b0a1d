"""Helpers shared by the commands."""

from __future__ import annotations

import sys

import click

from soilmap.pipeline import RunResult

#: ``--regions-crs``: the CRS of a regions file that has none.
regions_crs_option = click.option(
    "--regions-crs", help="CRS of a regions file that has none (e.g. EPSG:4326)."
)


def duplicate_ids_option(default: str | None = "error"):
    """``--duplicate-ids``; ``default=None`` lets a config file's value stand."""
    return click.option(
        "--duplicate-ids",
        type=click.Choice(["error", "suffix", "dissolve"]),
        default=default,
        show_default=default is not None,
        help="Region ids that repeat: fail, number the repeats (ID#2, ID#3 ...) or merge "
        "their polygons into one region" + ("." if default is not None else " [default: error]."),
    )


def compress_option(default: str | None = "deflate"):
    """``--compress``; ``default=None`` lets a config file's value stand."""
    return click.option(
        "--compress",
        type=click.Choice(["deflate", "zstd", "lzw"]),
        default=default,
        show_default=default is not None,
        help="Raster codec (with a predictor)"
        + ("" if default is not None else " [default: deflate]")
        + ".",
    )


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
