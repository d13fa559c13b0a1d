"""Options naming the files a command reads and writes: a required input, ``--out``,
``--overwrite`` (one definition for ``gsocseq``, ``zonal``, ``sample`` and ``rothc point``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

__all__ = ["input_option", "out_options"]

#: ``--out`` and ``--overwrite`` help of a command writing a folder, or one table.
_OUT_HELP = {
    True: ("Output folder.", "Replace outputs of an earlier run."),
    False: ("Table to write: .gpkg, .csv (+ .csvt) or .parquet.", "Replace an existing table."),
}


def input_option(
    flag: str, help: str, *, path_type: type = Path, dir_okay: bool = True
) -> Callable[[Any], Any]:
    """A required path option naming an input file (``--regions``, ``--points``).

    Parameters
    ----------
    flag : str
        The option, e.g. ``"--regions"``.
    help : str
        Its help text.
    path_type : type
        ``pathlib.Path``, or ``str`` for inputs that may be URLs or ``/vsi*`` paths.
    dir_okay : bool
        False: a folder is refused (by click, before the command runs).
    """
    return click.option(
        flag, required=True, type=click.Path(dir_okay=dir_okay, path_type=path_type), help=help
    )


def out_options(
    *,
    folder: bool,
    path_type: type = Path,
    help: str | None = None,
    overwrite_help: str | None = None,
) -> Callable[[Any], Any]:
    """The required ``--out`` (a folder, or a file) followed by the ``--overwrite`` flag.

    Parameters
    ----------
    folder : bool
        True: ``--out`` is an output folder (a file is refused); False: a table file.
    path_type : type
        ``pathlib.Path`` or ``str``, as the command takes it.
    help, overwrite_help : str, optional
        Help texts; by default those of a folder of outputs or of one table.
    """
    out_help, replace_help = _OUT_HELP[folder]
    if folder:
        kind = click.Path(file_okay=False, path_type=path_type)
    else:
        kind = click.Path(dir_okay=False, path_type=path_type)

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        # Applied bottom-up: click lists --out first, then --overwrite.
        f = click.option("--overwrite", is_flag=True, help=overwrite_help or replace_help)(f)
        return click.option("--out", required=True, type=kind, help=help or out_help)(f)

    return decorate
