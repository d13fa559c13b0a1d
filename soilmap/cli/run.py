"""``soilmap run``: a whole run from a config file or from flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from soilmap.cli.options import (
    compress_option,
    duplicate_ids_option,
    regions_crs_option,
    report,
    show_progress,
)
from soilmap.config import (
    LandcoverConfig,
    OutputConfig,
    RegionsConfig,
    RunConfig,
    SocConfig,
    load_config,
)
from soilmap.errors import ConfigError
from soilmap.pipeline import run as run_pipeline
from soilmap.scenario import Scenario


def _scenario(base: Scenario, **given) -> Scenario:
    changes = {k: v for k, v in given.items() if v not in (None, ())}
    return dataclasses.replace(base, **changes) if changes else base


def build_config(config_path: Path | None, **o) -> RunConfig:
    """Map the command's arguments onto a :class:`RunConfig` (flags override the file)."""
    cfg = load_config(config_path) if config_path else None
    if cfg is None:
        missing = [
            f"--{k.replace('_', '-')}" for k in ("soc", "regions", "region_id", "out") if not o[k]
        ]
        if missing:
            raise ConfigError(
                f"give a config file (soilmap run CONFIG.toml) or at least {', '.join(missing)}."
            )
    soc = cfg.soc if cfg else None
    if o["soc"]:
        soc = SocConfig(stock=Path(o["soc"]), units=o["soc_units"])
    elif o["soc_units"] and soc is not None:
        soc = dataclasses.replace(soc, units=o["soc_units"])
    landcover = cfg.landcover if cfg else None
    if o["landcover"]:
        if not o["landcover_scheme"]:
            raise ConfigError(
                "--landcover needs --landcover-scheme (a preset name or a table "
                "file; see `soilmap schemes`)."
            )
        landcover = LandcoverConfig(
            path=Path(o["landcover"]),
            scheme=o["landcover_scheme"],
            unknown=o["unknown_classes"] or "error",
            method=o["landcover_method"] or "area",
            exclude=tuple(o["exclude"]),
        )
    elif o["landcover_scheme"] or o["unknown_classes"] or o["landcover_method"] or o["exclude"]:
        if landcover is None:
            raise ConfigError("--landcover-scheme/--unknown-classes need --landcover PATH.")
        landcover = dataclasses.replace(
            landcover,
            scheme=o["landcover_scheme"] or landcover.scheme,
            unknown=o["unknown_classes"] or landcover.unknown,
            method=o["landcover_method"] or landcover.method,
            exclude=landcover.exclude + tuple(o["exclude"]),
        )
    regions = cfg.regions if cfg else None
    if o["regions"]:
        regions = RegionsConfig(
            path=Path(o["regions"]),
            id_field=o["region_id"] or "",
            name_field=o["region_name"],
            layer=o["regions_layer"],
            crs=o["regions_crs"],
            duplicate_ids=o["duplicate_ids"] or "error",
        )
        if not o["region_id"]:
            raise ConfigError("--regions needs --region-id FIELD.")
    elif regions is not None:
        regions = dataclasses.replace(
            regions,
            id_field=o["region_id"] or regions.id_field,
            name_field=o["region_name"] or regions.name_field,
            crs=o["regions_crs"] or regions.crs,
            layer=o["regions_layer"] or regions.layer,
            duplicate_ids=o["duplicate_ids"] or regions.duplicate_ids,
        )
    output = cfg.output if cfg else OutputConfig(dir=Path(o["out"]))
    output = dataclasses.replace(
        output,
        dir=Path(o["out"]) if o["out"] else output.dir,
        overwrite=o["overwrite"] or output.overwrite,
        compress=o["compress"] or output.compress,
    )
    given = [o[k] for k in ("rate", "start_year", "growth", "scenario_name")] + [
        o["horizon"],
        o["eligible"],
    ]
    if cfg and len(cfg.scenarios) > 1 and any(v not in (None, ()) for v in given):
        raise ConfigError(
            f"{cfg.source} defines {len(cfg.scenarios)} scenarios; scenario flags (--rate, "
            "--horizon ...) apply to single-scenario runs only. Edit the config file instead."
        )
    scenario = _scenario(
        cfg.scenario if cfg else Scenario(),
        rate=o["rate"],
        start_year=o["start_year"],
        horizons=tuple(o["horizon"]),
        growth=o["growth"],
        eligible=tuple(o["eligible"]),
        name=o["scenario_name"],
    )
    assert soc is not None and regions is not None  # guaranteed by the checks above
    run_opts = {
        k: (o[k] if o[k] is not None else getattr(cfg, k, None))
        for k in ("scheduler", "workers", "memory_limit")
    }
    return RunConfig(
        soc=soc,
        landcover=landcover,
        regions=regions,
        output=output,
        scenarios=(scenario,) if not cfg or len(cfg.scenarios) == 1 else cfg.scenarios,
        chunks=cfg.chunks if cfg else None,
        source=cfg.source if cfg else None,
        **run_opts,
    )


@click.command("run")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--soc", type=click.Path(path_type=Path), help="SOC stock raster (0-30 cm).")
@click.option(
    "--soc-units",
    help="Units of the SOC stock, e.g. 't C ha-1' or 'kg C m-2' "
    "(required unless the file states them).",
)
@click.option("--landcover", type=click.Path(path_type=Path), help="Land-cover class raster.")
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
    type=click.Path(path_type=Path),
    multiple=True,
    help="Vector mask (protected areas, peat, urban ...) whose area is excluded; repeat.",
)
@click.option(
    "--unknown-classes",
    type=click.Choice(["error", "excluded"]),
    help="Land-cover codes missing from the table: fail (default) or exclude.",
)
@click.option(
    "--regions", type=click.Path(path_type=Path), help="Region polygons (any vector format)."
)
@click.option("--region-id", help="Field with a unique region id.")
@click.option("--region-name", help="Field with the region name.")
@click.option("--regions-layer", help="Layer of a multi-layer vector file.")
@duplicate_ids_option(default=None)
@regions_crs_option
@click.option("--rate", type=float, help="Relative annual SOC growth [default: 0.004].")
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
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace outputs of an earlier run.")
@compress_option(default=None)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on an existing Dask cluster, e.g. tcp://host:8786 (dask-jobqueue, Kubernetes, "
    "Coiled ...). Inputs and --out must be on a file system every worker sees.",
)
@click.option("--workers", type=int, help="Start a local cluster of N worker processes.")
@click.option(
    "--memory-limit",
    metavar="SIZE",
    help="Memory ceiling, e.g. 4GB: chunks are sized to stay within it (per worker with "
    "--workers).",
)
@click.pass_context
def command(ctx: click.Context, config: Path | None, **options) -> None:
    """Run the 4 per 1000 projection and write maps, zonal statistics and run.json.

    Either from a CONFIG.toml file, or from flags; flags given next to a config file
    override its values.
    """
    cfg = build_config(config, **options)
    result = run_pipeline(cfg, progress=show_progress(ctx))
    report(result, ctx.find_root().obj.get("quiet", False))
