"""``soilmap qgis-plugin build``: the zip of the QGIS plugin, for "Install from ZIP".

The plugin (``qgis_plugin/soilmap_processing`` in the repository) ships inside the
wheel and sdist as package data (``soilmap/qgis_plugin_data/``); from a checkout
(editable install) it is read from the repository.  The zip holds one folder,
``soilmap_processing/``, as QGIS's plugin installer expects, with the version of
``metadata.txt`` set to this soilmap's version.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import click

from soilmap._version import __version__
from soilmap.errors import InputNotFoundError
from soilmap.io.staging import staged_file

__all__ = ["build_plugin_zip", "command", "plugin_source"]

PLUGIN = "soilmap_processing"
_SKIP = ("__pycache__", ".pyc", ".pyo", ".DS_Store")


def plugin_source() -> Path:
    """The folder of the plugin's files (package data, else the repository checkout).

    Raises
    ------
    soilmap.errors.InputNotFoundError
        Neither is there (a broken install).
    """
    package = Path(__file__).resolve().parents[1]
    for candidate in (
        package / "qgis_plugin_data" / PLUGIN,
        package.parent / "qgis_plugin" / PLUGIN,
    ):
        if (candidate / "metadata.txt").is_file():
            return candidate
    raise InputNotFoundError(
        f"the QGIS plugin files ({PLUGIN}/metadata.txt) are not in {package} nor in the "
        "repository beside it. Reinstall soilmap (pip install --force-reinstall soilmap-4p1000)."
    )


def build_plugin_zip(out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the plugin zip to ``out`` (a ``.zip`` file or a folder); return its path.

    Raises
    ------
    soilmap.errors.OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    """
    source = plugin_source()
    out = Path(out)
    if out.suffix.lower() != ".zip":
        out = out / f"{PLUGIN}-{__version__}.zip"
    files = sorted(
        p
        for p in source.rglob("*")
        if p.is_file() and not any(part.endswith(_SKIP) for part in p.relative_to(source).parts)
    )
    with (
        staged_file(out, overwrite=overwrite) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z,
    ):
        for path in files:
            arcname = f"{PLUGIN}/{path.relative_to(source).as_posix()}"
            if path.name == "metadata.txt":
                text = path.read_text(encoding="utf-8")
                text = re.sub(r"(?m)^version=.*$", f"version={__version__}", text)
                z.writestr(arcname, text)
            else:
                z.write(path, arcname)
    return out


@click.group("qgis-plugin")
def command() -> None:
    """The QGIS plugin (Processing provider "soilmap")."""


@command.command("build")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Zip file to write, or a folder for soilmap_processing-VERSION.zip.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing zip.")
def build(out: Path, overwrite: bool) -> None:
    """Zip the plugin for QGIS: Plugins > Manage and Install Plugins > Install from ZIP."""
    path = build_plugin_zip(out, overwrite=overwrite)
    click.echo(f"wrote {path}")
