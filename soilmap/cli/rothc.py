"""``soilmap rothc``: the RothC model (``point``: one official ``RothC_input.dat``;
``run``: a gridded run from the ``[rothc]`` section of a run description)."""

from __future__ import annotations

from pathlib import Path

import click

from soilmap.cli.file_options import out_options
from soilmap.cli.options import cluster_options, progress_mode, progress_option, show_progress
from soilmap.config import RunConfig
from soilmap.rothc.inputfile import read_input
from soilmap.rothc.point import run_point
from soilmap.rothc.results import write_results


@click.group("rothc")
def command() -> None:
    """The Rothamsted Carbon Model (RothC-26.3)."""


@command.command("point")
@click.argument("input_file", type=click.Path(dir_okay=False, path_type=Path))
@out_options(
    folder=True,
    help="Folder for year_results.csv and month_results.csv.",
    overwrite_help="Replace existing result files.",
)
def point(input_file: Path, out: Path, overwrite: bool) -> None:
    """Run one site from an official RothC_input.dat (standard or extended layout)."""
    inp = read_input(input_file)
    result = run_point(inp)
    paths = write_results(result, out, overwrite=overwrite)
    eq = float(result.equilibrium.sum()) + result.iom
    click.echo(
        f"spin-up: {result.spinup_months} months, equilibrium SOC {eq:.4f} t C/ha; "
        f"wrote {', '.join(str(p) for p in paths)}"
    )


@command.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: [output] dir); RothC writes into its rothc/ sub-folder.",
)
@click.option("--overwrite", is_flag=True, help="Replace RothC outputs of an earlier run.")
@cluster_options
@progress_option
@click.pass_context
def run(
    ctx: click.Context,
    config: Path,
    out: Path | None,
    overwrite: bool,
    scheduler: str | None,
    workers: int | None,
    memory_limit: str | None,
) -> None:
    """Gridded RothC (spin-up to the observed stock, warm-up, BAU/SSM scenarios) from
    the [rothc] section of CONFIG; writes <out>/rothc/."""
    from soilmap.rothc.run import run_rothc

    cfg = RunConfig.from_flags(
        config, scheduler=scheduler, workers=workers, memory_limit=memory_limit
    )
    if out is not None or overwrite:
        cfg = cfg.with_output(out or cfg.output.dir, overwrite=overwrite or None)
    result = run_rothc(cfg, progress=show_progress(ctx))
    obj = ctx.find_root().obj or {}
    if obj.get("quiet"):
        return
    err = progress_mode(ctx) == "json"
    status = result.manifest["cells"]["status"]
    click.echo(f"wrote {len(result.outputs)} files to {result.out_dir}", err=err)
    click.echo(
        "cells with SOC: " + ", ".join(f"{k} {v:,}" for k, v in status.items() if v), err=err
    )
    for t in result.manifest["totals"]:
        share = t["attainable_share_of_target"]
        click.echo(
            f"  {t['scenario']:<5} RothC {t['rothc_t_per_yr']:>14,.0f} t C/yr vs 4 per 1000 "
            f"target {t['target_t_per_yr']:>14,.0f} t C/yr: "
            + (f"{share:6.1%} of the target" if share is not None else "no target")
            + f" ({t['area_ha']:,.0f} ha calibrated)",
            err=err,
        )
