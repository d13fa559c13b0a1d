"""The ``soilmap`` command: a click group with one module per sub-command."""

from __future__ import annotations

import logging
import sys

import click

from soilmap._version import __version__
from soilmap.cli.options import json_progress
from soilmap.errors import SoilmapError
from soilmap.options import apply_gdal_cache
from soilmap.progress import ProgressEvent


class _SoilmapGroup(click.Group):
    """Turns soilmap errors into a one-line message and exit code 1, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SoilmapError as exc:
            # ctx.meta is shared with the sub-command's context, which set it.
            if ctx.meta.get("soilmap.progress") == "json":
                json_progress(ProgressEvent("error", 0, 0, f"{type(exc).__name__}: {exc}"))
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


@click.group(cls=_SoilmapGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="soilmap")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bar.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Map soil carbon sequestration potential under the 4 per 1000 Initiative.

    Run `soilmap demo` for the bundled sample, `soilmap run CONFIG.toml` for your own data.
    """
    level = (
        logging.WARNING
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet


# GDAL's block cache defaults to 5 % of RAM; soilmap reads every block once, so a
# large cache only adds to the peak memory. A user's own setting wins.
apply_gdal_cache()


def _register() -> None:
    from soilmap.cli import data, demo, gsocseq, run, schemes, zonal

    for module in (run, demo, zonal, gsocseq, schemes, data):
        cli.add_command(module.command)
    cli.add_command(__import__("soilmap.cli.sample", fromlist=["command"]).command)


_register()
