"""Unreadable or missing vector inputs are typed input errors, in every reader.

Regression: the points reader named ``pyogrio.errors.FieldTypeError`` (which does not
exist), so any read error became an AttributeError, an "internal error" of the CLI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from soilmap.errors import InputError, InputNotFoundError
from soilmap.grid import Grid
from soilmap.io.vector import read_regions
from soilmap.landuse.masks import vector_mask_fraction
from soilmap.zonal.points import read_points

GRID = Grid(CRS.from_epsg(32637).to_wkt(), Affine(250.0, 0, 500000.0, 0, -250.0, 1500000.0), (4, 4))

READERS = {
    "points file": lambda p: read_points(p),
    "regions file": lambda p: read_regions(p, id_field="id"),
    "mask file": lambda p: vector_mask_fraction(p, GRID),
}


@pytest.mark.parametrize("what", READERS)
def test_a_file_that_is_not_a_vector_is_an_input_error(tmp_path: Path, what: str):
    bad = tmp_path / "broken.gpkg"
    bad.write_text("not a GeoPackage\n")
    with pytest.raises(InputError, match=rf"{what} '.*broken\.gpkg' cannot be read \("):
        READERS[what](bad)


@pytest.mark.parametrize("what", READERS)
def test_a_missing_file_is_input_not_found(tmp_path: Path, what: str):
    with pytest.raises(InputNotFoundError, match=rf"{what} '.*nowhere\.gpkg' does not exist"):
        READERS[what](tmp_path / "nowhere.gpkg")


def test_soilmap_sample_with_a_broken_points_file_exits_as_an_input_error(tmp_path: Path):
    raster = tmp_path / "r.tif"
    profile = {"driver": "GTiff", "width": 4, "height": 4, "count": 1, "dtype": "float32"}
    with rasterio.open(raster, "w", crs=GRID.crs_wkt, transform=GRID.transform, **profile) as dst:
        dst.write(np.ones((1, 4, 4), "float32"))
    bad = tmp_path / "points.gpkg"
    bad.write_text("not a GeoPackage\n")
    done = subprocess.run(
        [sys.executable, "-m", "soilmap", "sample", str(raster), "--points", str(bad),
         "--out", str(tmp_path / "s.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # input error, not 4 (internal)
    assert "InputError: points file" in done.stderr and "cannot be read" in done.stderr
    assert "internal error" not in done.stderr
