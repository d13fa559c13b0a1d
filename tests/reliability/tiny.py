"""A tiny run made by code, and the checks every fault case makes.

``make_tiny(folder)`` writes a 400 x 400 stock raster of 1 ha cells in EPSG:3035
(stock 40 + (row + col) mod 17 t C ha-1, a 5 x 5 corner of nodata), two regions
(the West and East halves), a land-cover raster (all ESA WorldCover cropland, 40)
and ``tiny.toml`` with chunks of 100 x 100 cells (16 chunks, 4 windows on 2 cores).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from click.testing import CliRunner, Result

from soilmap.cli.main import cli
from soilmap.testing import make_grid, write_raster

N = 400
X0, Y0, RES = 4_000_000.0, 3_000_000.0, 100.0

TOML = """[soc]
stock = "stock.tif"
units = "t C ha-1"

[regions]
path = "regions.gpkg"
id_field = "rid"
name_field = "name"

[scenario]
horizons = [2030]

[output]
dir = "out"

[run]
chunks = [{chunk}, {chunk}]
"""


def regions(ids=("A", "B"), n: int = N) -> gpd.GeoDataFrame:
    """The West and East halves of the raster (``n`` cells a side), with ``ids``."""
    w = n * RES
    polys = [
        shapely.box(X0, Y0 - w, X0 + w / 2, Y0),
        shapely.box(X0 + w / 2, Y0 - w, X0 + w, Y0),
    ]
    return gpd.GeoDataFrame(
        {"rid": list(ids), "name": ["West", "East"]}, geometry=polys, crs="EPSG:3035"
    )


def make_tiny(folder: Path, *, n: int = N, chunk: int = 100) -> Path:
    """Write the tiny inputs into ``folder``; return the config file."""
    folder.mkdir(parents=True, exist_ok=True)
    grid = make_grid((n, n), res=RES, crs="EPSG:3035", origin=(X0, Y0))
    r, c = np.mgrid[0:n, 0:n]
    stock = (40 + (r + c) % 17).astype("float32")
    stock[:5, :5] = -9999
    write_raster(folder / "stock.tif", stock, grid, nodata=-9999, units="t C ha-1")
    write_raster(folder / "landcover.tif", np.full((n, n), 40, "uint8"), grid, nodata=0)
    regions(n=n).to_file(folder / "regions.gpkg", layer="regions")
    cfg = folder / "tiny.toml"
    cfg.write_text(TOML.format(chunk=chunk))
    return cfg


def run_cli(*args: str | Path) -> Result:
    """``soilmap ARGS`` in this process (stdout and stderr apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run_subprocess(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``soilmap ARGS`` in a new Python process."""
    code = "from soilmap.cli.main import cli; cli()"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tree(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (hidden ones too)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def staging_left(folder: Path) -> list[str]:
    """Staging folders (and lock files) left in ``folder``."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".soilmap-staging-"))


def one_line_error(stderr: str, cls: str, *words: str) -> str:
    """The ``Error: <cls>: ...`` line; asserts no traceback and every word in it."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"Error: {cls}: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]
