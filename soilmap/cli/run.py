"""``soilmap run``: a whole run from a config file or from flags."""

from __future__ import annotations

from pathlib import Path

import click

from soilmap.cli.options import (
    cluster_options,
    compress_option,
    duplicate_ids_option,
    progress_option,
    regions_crs_option,
    report,
    report_checks,
    show_progress,
)
from soilmap.config import RunConfig
from soilmap.pipeline.run import run as run_pipeline


def _out_folder(value: str | None) -> Path | None:
    """``--out``: an empty value is refused (it would silently mean the config's folder)."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("the output folder is empty: name a folder, e.g. --out results/")
    return Path(value)


@click.command("run")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--soc", type=click.Path(path_type=str), help="SOC stock raster.")
@click.option(
    "--soc-depth",
    help="Depth range of the SOC stock in cm, e.g. 0-30 (default: from the product preset, "
    "the file's tags or name; else 0-30 cm is assumed and said so).",
)
@click.option(
    "--soc-units",
    help="Units of the SOC stock, e.g. 't C ha-1' or 'kg C m-2' "
    "(required unless the file states them).",
)
@click.option(
    "--on-implausible",
    type=click.Choice(["error", "drop"]),
    help="SOC cells outside their plausible range (undeclared nodata codes, outliers): stop "
    "with the fix (default) or remove them, counted in run.json and on the console.",
)
@click.option("--landcover", type=click.Path(path_type=str), help="Land-cover class raster.")
@click.option(
    "--landcover-scheme",
    help="Class-table preset (see `soilmap schemes`) or a table file (.csv/.yaml).",
)
@click.option(
    "--landcover-method",
    type=click.Choice(["area", "nearest"]),
    help="Land cover on another grid: area-weighted group shares (default) or the class "
    "under each cell centre.",
)
@click.option(
    "--exclude",
    type=click.Path(path_type=str),
    multiple=True,
    help="Vector mask (protected areas, peat, urban ...) whose area is excluded; repeat.",
)
@click.option(
    "--unknown-classes",
    type=click.Choice(["error", "excluded"]),
    help="Land-cover codes missing from the table: fail (default) or exclude.",
)
@click.option(
    "--regions",
    type=click.Path(path_type=str),
    help="Region polygons (any vector format; optional: without them the table has one "
    "row per land-use group for the whole extent).",
)
@click.option("--region-id", help="Field with a unique region id.")
@click.option("--region-name", help="Field with the region name.")
@click.option("--regions-layer", help="Layer of a multi-layer vector file.")
@duplicate_ids_option(default=None)
@click.option(
    "--missing-ids",
    type=click.Choice(["error", "drop"]),
    help="Features whose --region-id is NULL or empty: fail naming their rows (default) or "
    "leave them out (reported in run.json).",
)
@regions_crs_option
@click.option(
    "--rate",
    help="Relative annual SOC growth: 0.004, 4‰, 0.4% or '4 permille'; |rate| > 0.05 is "
    "refused as a unit slip, negative rates are losses [default: 0.004].",
)
@click.option("--start-year", type=int, help="Year of the initial stock [default: 2020].")
@click.option(
    "--horizon",
    type=int,
    multiple=True,
    help="Year to report the gain for; repeat for several [default: 2030, 2050].",
)
@click.option(
    "--growth",
    type=click.Choice(["linear", "compound"]),
    help="Growth on the initial stock (linear, default) or compound.",
)
@click.option(
    "--eligible",
    multiple=True,
    help="Land-use group the rate applies to; repeat "
    "[default: cropland grassland pasture paddy forest].",
)
@click.option("--scenario-name", help="Name of the scenario [default: 4p1000].")
@click.option(
    "--extent",
    type=click.Choice(["regions", "raster"]),
    help="Cells the run covers: the regions' bounding box, snapped outward to whole SOC "
    "cells (default), or the whole SOC raster.",
)
@click.option(
    "--bbox",
    type=float,
    nargs=4,
    metavar="W S E N",
    help="Cover this window instead (in the SOC CRS, or in --bbox-crs), snapped outward to "
    "whole SOC cells.",
)
@click.option("--bbox-crs", help="CRS of --bbox, e.g. EPSG:4326 [default: the SOC CRS].")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    callback=lambda _c, _p, v: _out_folder(v),
    help="Output folder.",
)
@click.option("--overwrite", is_flag=True, help="Replace outputs of an earlier run.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run into the same --out from its finished windows (same "
    "configuration and unchanged inputs); without it, an interrupted run's files are removed.",
)
@compress_option(default=None)
@cluster_options
@progress_option
@click.pass_context
def command(ctx: click.Context, config: Path | None, **options: object) -> None:
    """Run the 4 per 1000 projection and write maps, zonal statistics and run.json.

    Either from a CONFIG.toml file, or from flags; flags given next to a config file
    override its values.
    """
    resume = bool(options.pop("resume", False))
    cfg = RunConfig.from_flags(config, **options)
    result = run_pipeline(cfg, progress=show_progress(ctx), resume=resume)
    report(result, ctx.find_root().obj.get("quiet", False))
    report_checks(result, ctx.find_root().obj.get("quiet", False))
    if cfg.rothc is not None:
        # [rothc] in the run description: the RothC run follows, into <out>/rothc/.
        from soilmap.rothc.run import run_rothc

        done = run_rothc(cfg, progress=show_progress(ctx))
        if not ctx.find_root().obj.get("quiet", False):
            click.echo(f"RothC: wrote {len(done.outputs)} files to {done.out_dir}")
