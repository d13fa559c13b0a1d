"""``soilmap demo``: run the bundled Tigray sample."""

from __future__ import annotations

from pathlib import Path

import click

from soilmap.cli.options import progress_option, report, show_progress
from soilmap.config import load_config
from soilmap.datasets.sample import SAMPLE_CONFIG, sample_data_dir
from soilmap.pipeline.run import run


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("soilmap-demo"),
    show_default=True,
    help="Output folder.",
)
@click.option("--overwrite", is_flag=True, help="Replace outputs of an earlier demo run.")
@progress_option
@click.pass_context
def command(ctx: click.Context, out: Path, overwrite: bool) -> None:
    """Run the bundled sample (SoilGrids 2017 and ESA CCI land cover, Southern Tigray)."""
    cfg = load_config(sample_data_dir() / SAMPLE_CONFIG)
    cfg = cfg.with_output(out, overwrite=overwrite)
    result = run(cfg, progress=show_progress(ctx))
    report(result, ctx.find_root().obj.get("quiet", False))
