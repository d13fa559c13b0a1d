"""landuse.tif and landuse_fractions.tif of the sample run, opened in real QGIS.

What QGIS 3.22 (GDAL 3.6) shows, with the result folder as it is (the ``.qml`` beside
each raster is its default style) and with ``landuse.tif`` alone (another tool, a
copied file): the colour table is inside the GeoTIFF, so the classes keep their colours
anywhere.  Category names are written into the file as ``CLASS_<code>`` band metadata
(the GDAL_METADATA tag); GDAL before 3.12 keeps *category names* and RATs of a GeoTIFF
only in an ``.aux.xml`` side file, which the folder must not hold, so QGIS takes the
class labels from ``landuse.qml``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import rasterio

QGIS_PYTHON = "/usr/bin/python3"
HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(
    not (os.path.exists(QGIS_PYTHON) and shutil.which("qgis_process")),
    reason="needs Debian's qgis + python3-qgis (.ci/run installs them)",
)


def _open_in_qgis(tmp_path: Path, *paths: Path) -> dict:
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [QGIS_PYTHON, str(HERE / "qgis_open_rasters.py"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["rasters"]


def _qml_classes(path: Path) -> list[list]:
    root = ET.fromstring(path.read_text().split("\n", 1)[1])
    return [
        [float(e.get("value")), e.get("color").lower(), e.get("label")]
        for e in root.iter("paletteEntry")
    ]


def test_landuse_classes_and_fractions_band_in_real_qgis(sample_run, tmp_path):
    out = sample_run.out_dir
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(out / "landuse.tif", bare / "landuse.tif")  # without its .qml
    seen = _open_in_qgis(
        tmp_path, out / "landuse.tif", bare / "landuse.tif", out / "landuse_fractions.tif"
    )

    # As the folder is: a paletted renderer whose classes are the run's groups, named
    # and coloured as the class table says (sample: WorldCover groups, 7 present).
    styled = seen[str(out / "landuse.tif")]
    expected = _qml_classes(out / "landuse.qml")
    assert styled["valid"] and styled["renderer"] == "paletted" and styled["band"] == 1
    assert styled["classes"] == expected
    assert {c[2] for c in expected} >= {"excluded", "cropland", "grassland", "forest"}

    # The file alone: QGIS still draws it paletted, from the colour table in the file,
    # with every class in its colour, and lists the CLASS_<code> names in its metadata.
    alone = seen[str(bare / "landuse.tif")]
    assert alone["valid"] and alone["renderer"] == "paletted"
    colours = {v: c for v, c, _ in alone["classes"]}
    for value, colour, label in expected:
        assert colours[value] == colour, label
        assert f"CLASS_{int(value)}={label}" in alone["metadata"], label
    with rasterio.open(out / "landuse.tif") as src:
        assert src.colorinterp[0].name == "palette" and src.dtypes[0] == "uint8"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert not list(out.glob("*.aux.xml")) and not list(bare.glob("*.aux.xml"))

    # landuse_fractions.tif opens on cropland, the first eligible group (band 1 is
    # "excluded"), as a 0-1 share of the cell.
    fractions = seen[str(out / "landuse_fractions.tif")]
    eligible = sample_run.manifest["parameters"]["scenarios"][0]["eligible"]
    with rasterio.open(out / "landuse_fractions.tif") as src:
        first = next(i for i, d in enumerate(src.descriptions, 1) if d in eligible)
        assert src.descriptions[0] == "excluded" and src.descriptions[first - 1] == "cropland"
    assert fractions["renderer"] == "singlebandpseudocolor" and fractions["band"] == first == 2
    assert fractions["range"] == [0.0, 1.0]
