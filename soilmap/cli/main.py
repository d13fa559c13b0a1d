"""The ``soilmap`` command: a click group with one module per sub-command."""

from __future__ import annotations

import gc
import importlib
import logging
import signal
import sys
import tempfile
import traceback

import click

from soilmap._version import __version__
from soilmap.cli.options import json_progress
from soilmap.errors import SoilmapError, exit_code
from soilmap.options import apply_gdal_cache
from soilmap.progress import ProgressEvent


class RunInterruptedError(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so staging folders are cleaned up."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, _frame: object) -> None:
    raise RunInterruptedError(signum)


#: Where to report a bug: ``Issues`` of ``[project.urls]`` in pyproject.toml.
ISSUES_URL = "https://github.com/soilmap/soilmap/issues"


def _issues_url() -> str:
    """The installed package's ``Issues`` URL (the constant above if it has none)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("soilmap-4p1000").get_all("Project-URL") or []
    except PackageNotFoundError:
        return ISSUES_URL
    found = [u.split(",", 1)[1].strip() for u in urls if u.split(",", 1)[0].strip() == "Issues"]
    return found[0] if found else ISSUES_URL


def _internal_error(exc: BaseException) -> str:
    """Save the traceback of an unexpected exception; the one line to print."""
    fd, path = tempfile.mkstemp(prefix="soilmap-traceback-", suffix=".txt")
    with open(fd, "w") as f:
        f.write("".join(traceback.format_exception(exc)))
    return (
        f"internal error: {type(exc).__name__}: {exc}. This is a bug in soilmap, not in "
        f"your data: the full traceback is in {path} (run with -v to print it); please "
        f"report it with that file at {_issues_url()}."
    )


class _SoilmapGroup(click.Group):
    """Every failure ends in one line and an exit code (see soilmap.errors.EXIT_CODES)."""

    def invoke(self, ctx: click.Context):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _on_signal)
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except SoilmapError as exc:
            # ctx.meta is shared with the sub-command's context, which set it.
            if ctx.meta.get("soilmap.progress") == "json":
                json_progress(ProgressEvent("error", 0, 0, f"{type(exc).__name__}: {exc}"))
            click.echo(f"Error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(exit_code(exc))
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            name = signal.Signals(signum).name
            # The run says whether it kept its staging folder for --resume.
            note = getattr(exc, "soilmap_note", None)
            click.echo(
                f"Error: interrupted ({name}); the output folder is as it was before the run"
                + (f"; {note}." if note else "."),
                err=True,
            )
            ctx.exit(128 + int(signum))
        except Exception as exc:
            if (ctx.obj or {}).get("verbose"):
                traceback.print_exception(exc, file=sys.stderr)
            click.echo(f"Error: {_internal_error(exc)}", err=True)
            ctx.exit(4)


@click.group("soilmap", cls=_SoilmapGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    ctx.obj["verbose"] = verbose


def main() -> None:
    """The ``soilmap`` console script and ``python -m soilmap``: :func:`cli`, then exit."""
    try:
        cli(prog_name="soilmap")
    finally:
        # The process ends here: the interpreter's last collections would walk every
        # object left (half a second after a run) only for the memory to go back to
        # the system anyway.  Not in cli() itself, which tests call in one process.
        gc.freeze()


# GDAL's block cache defaults to 5 % of RAM; soilmap reads every block once, so a
# large cache only adds to the peak memory. A user's own setting wins.
apply_gdal_cache()


def _register() -> None:
    from soilmap.cli import data, demo, gsocseq, report, rothc, run, schemes, zonal

    for module in (run, demo, zonal, gsocseq, schemes, data, rothc, report):
        cli.add_command(module.command)
    cli.add_command(importlib.import_module("soilmap.cli.qgis_plugin").command)
    cli.add_command(__import__("soilmap.cli.sample", fromlist=["command"]).command)


_register()
