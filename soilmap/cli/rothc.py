"""``soilmap rothc``: the RothC model (``point``: one official ``RothC_input.dat``)."""

from __future__ import annotations

from pathlib import Path

import click

from soilmap.rothc.inputfile import read_input
from soilmap.rothc.point import run_point
from soilmap.rothc.results import write_results


@click.group("rothc")
def command() -> None:
    """The Rothamsted Carbon Model (RothC-26.3)."""


@command.command("point")
@click.argument("input_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for year_results.csv and month_results.csv.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing result files.")
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
