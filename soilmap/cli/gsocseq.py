"""``soilmap gsocseq``: compare the 4 per 1000 target with FAO's GSOCseq scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from soilmap.cli.file_options import input_option, out_options
from soilmap.cli.options import (
    cluster_options,
    compress_option,
    duplicate_ids_option,
    progress_mode,
    progress_option,
    regions_crs_option,
    show_progress,
)
from soilmap.errors import ConfigError
from soilmap.gsocseq import run_comparison
from soilmap.scenario.model import parse_rate


def target_rate(text: str) -> float:
    """The ``--rate`` of the comparison: as ``soilmap run --rate`` reads it, and a gain.

    >>> target_rate("4‰"), target_rate("0.4%"), target_rate("0.004")
    (0.004, 0.004, 0.004)

    Raises
    ------
    soilmap.errors.ConfigError
        Not a rate, a likely unit slip (|rate| > 0.05 per year), or not a gain.
    """
    rate = parse_rate(text, what="--rate")
    if not rate > 0:
        raise ConfigError(
            f"--rate: the target is a relative annual gain of the SOC stock, got {text!r} "
            f"({rate:g} per year). Give a positive rate, e.g. --rate 0.004 (4 per 1000)."
        )
    return rate


@click.command("gsocseq")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@input_option("--regions", "Region polygons (any vector format).", dir_okay=False)
@click.option("--region-id", required=True, help="Field with a unique region id.")
@click.option("--region-name", help="Field with the region name.")
@regions_crs_option
@click.option(
    "--rate",
    "rate_text",
    default="0.004",
    show_default=True,
    help="Relative annual SOC stock growth of the target: 0.004, 4‰, 0.4% or "
    "'4 permille' (4 per 1000); |rate| > 0.05 is refused as a unit slip, and a target "
    "is a gain (> 0).",
)
@click.option(
    "--emissions-field",
    help="Numeric field of the regions with emissions (t CO2e/yr) to offset.",
)
@out_options(folder=True)
@compress_option()
@duplicate_ids_option()
@cluster_options
@progress_option
@click.pass_context
def command(
    ctx: click.Context,
    folder: Path,
    regions: Path,
    region_id: str,
    region_name: str | None,
    regions_crs: str | None,
    rate_text: str,
    emissions_field: str | None,
    duplicate_ids: Literal["error", "suffix", "dissolve"],
    out: Path,
    overwrite: bool,
    compress: Literal["deflate", "zstd", "lzw"],
    scheduler: str | None,
    workers: int | None,
    memory_limit: str | None,
) -> None:
    """Compare the 4 per 1000 target with FAO's GSOCseq scenarios, per pixel and region.

    FOLDER holds GSOCseq maps of one country (GloSIS names such as
    PH-GSOC-CORGT0-2021-0-30.tif or national names such as Bhutan_GSOCseq_T0_Map030.tif):
    T0 and the ASR of at least one scenario.  Writes target_rate.tif, share_<scenario>.tif,
    gsocseq_comparison.gpkg/.csv and run.json into --out.
    """
    rate = target_rate(rate_text)
    obj = ctx.find_root().obj or {}
    quiet = bool(obj.get("quiet", False))
    err = progress_mode(ctx) == "json"  # stdout is then the machine-readable stream
    result = run_comparison(
        folder,
        regions,
        id_field=region_id,
        name_field=region_name,
        regions_crs=regions_crs,
        out_dir=out,
        overwrite=overwrite,
        rate=rate,
        emissions_field=emissions_field,
        duplicate_ids=duplicate_ids,
        compress=compress,
        progress=show_progress(ctx),
        scheduler=scheduler,
        workers=workers,
        memory_limit=memory_limit,
    )
    if quiet:
        return
    click.echo(f"wrote {len(result.outputs)} files to {result.out_dir}", err=err)
    click.echo(
        f"national totals (all compared cells of the maps), {rate * 1000:g} per 1000 target:",
        err=err,
    )
    for row in result.totals.itertuples(index=False):
        click.echo(
            f"  {row.scenario:<5} modelled {row.modelled_t_per_yr:>14,.0f} t C/yr vs target "
            f"{row.target_t_per_yr:>14,.0f} t C/yr: {row.share_of_target:6.1%} of the target "
            f"({row.area_ha:,.0f} ha)",
            err=err,
        )
