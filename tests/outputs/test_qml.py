"""Tests for soilmap.outputs.qml: QGIS .qml styles written beside the rasters."""

from __future__ import annotations

import itertools
import math
import os
import pathlib
import stat
import sys
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_hex

from soilmap.errors import InputError, SoilmapError
from soilmap.outputs.qml import continuous_style, paletted_style, style_path_for, write_qml

DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
PIPE_SIBLINGS = ["rasterrenderer", "brightnesscontrast", "huesaturation", "rasterresampler"]


def parse(xml: str) -> ET.Element:
    """Parse a .qml document; ElementTree accepts the DOCTYPE without fetching it."""
    assert xml.startswith(DOCTYPE + "\n")
    root = ET.fromstring(xml)
    # Same tree with the DOCTYPE stripped, for readers that choke on it.
    stripped = ET.fromstring(xml.split("\n", 1)[1])
    assert ET.tostring(stripped) == ET.tostring(root)
    return root


def renderer_of(root: ET.Element) -> ET.Element:
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None
    return renderer


def items_of(root: ET.Element) -> list[ET.Element]:
    return root.findall("pipe/rasterrenderer/rastershader/colorrampshader/item")


def ramp_hex(name: str, t: float) -> str:
    return to_hex(matplotlib.colormaps[name](t), keep_alpha=False)


# --------------------------------------------------------------------------- #
# continuous_style
# --------------------------------------------------------------------------- #
def test_continuous_document_layout():
    root = parse(continuous_style(0.0, 80.0))
    assert root.tag == "qgis"
    assert root.get("version", "").startswith("3.")
    assert root.get("styleCategories") == "AllStyleCategories"
    pipe = root.find("pipe")
    assert pipe is not None
    assert [child.tag for child in pipe][:4] == PIPE_SIBLINGS
    assert pipe.find("rasterresampler").get("maxOversampling") == "2"
    assert root.findtext("blendMode") == "0"

    renderer = renderer_of(root)
    assert renderer.get("type") == "singlebandpseudocolor"
    assert renderer.get("band") == "1"
    assert renderer.get("opacity") == "1"
    assert renderer.get("alphaBand") == "-1"
    assert renderer.get("nodataColor") == ""
    assert renderer.findtext("minMaxOrigin/limits") == "None"
    assert renderer.findtext("minMaxOrigin/extent") == "WholeRaster"

    shader = renderer.find("rastershader/colorrampshader")
    assert shader is not None
    assert shader.get("colorRampType") == "INTERPOLATED"
    assert shader.get("classificationMode") == "1"


@pytest.mark.parametrize(
    ("vmin", "vmax", "ramp", "n_stops"),
    [
        (0.0, 80.0, "YlGn", 9),
        (-12.5, 3.25, "viridis", 5),
        (0.1, 0.7, "RdBu_r", 2),
        (1e-4, 2.5e6, "magma", 17),
    ],
)
def test_continuous_min_max_and_stops(vmin, vmax, ramp, n_stops):
    root = parse(continuous_style(vmin, vmax, ramp=ramp, n_stops=n_stops))
    renderer = renderer_of(root)
    shader = renderer.find("rastershader/colorrampshader")
    assert float(renderer.get("classificationMin")) == vmin
    assert float(renderer.get("classificationMax")) == vmax
    assert float(shader.get("minimumValue")) == vmin
    assert float(shader.get("maximumValue")) == vmax

    items = items_of(root)
    assert len(items) == n_stops
    values = [float(item.get("value")) for item in items]
    assert values[0] == vmin
    assert values[-1] == vmax
    assert all(a < b for a, b in itertools.pairwise(values))
    np.testing.assert_allclose(values, np.linspace(vmin, vmax, n_stops), rtol=1e-12)

    colours = [item.get("color") for item in items]
    assert colours[0] == ramp_hex(ramp, 0.0)
    assert colours[-1] == ramp_hex(ramp, 1.0)
    assert colours == [ramp_hex(ramp, t) for t in np.linspace(0.0, 1.0, n_stops)]
    assert all(item.get("alpha") == "255" for item in items)
    labels = [item.get("label") for item in items]
    assert len(set(labels)) == n_stops


def test_continuous_labels_three_significant_digits_and_unit():
    root = parse(continuous_style(0.0, 1.0, n_stops=4, label_unit="t C ha-1"))
    labels = [item.get("label") for item in items_of(root)]
    assert labels == ["0 t C ha-1", "0.333 t C ha-1", "0.667 t C ha-1", "1 t C ha-1"]
    legend = root.find("pipe/rasterrenderer/rastershader/colorrampshader/rampLegendSettings")
    assert legend is not None
    assert legend.get("suffix") == " t C ha-1"


def test_continuous_labels_without_unit_and_large_values():
    root = parse(continuous_style(0.0, 2_000_000.0, n_stops=3))
    assert [item.get("label") for item in items_of(root)] == ["0", "1.00e+06", "2.00e+06"]


def test_continuous_labels_stay_distinct_on_narrow_range():
    root = parse(continuous_style(1000.0, 1001.0, n_stops=9))
    labels = [item.get("label") for item in items_of(root)]
    assert len(set(labels)) == 9
    assert labels[0] == "1000"
    assert labels[-1] == "1001"


def test_continuous_unit_is_escaped():
    unit = '<10 & t/ha "dry"'
    xml = continuous_style(0.0, 5.0, label_unit=unit)
    assert "&lt;10 &amp; t/ha" in xml
    labels = [item.get("label") for item in items_of(parse(xml))]
    assert all(label.endswith(" " + unit) for label in labels)


def test_continuous_band_and_nodata_colour():
    renderer = renderer_of(parse(continuous_style(0, 1, band=3, nodata_transparent=False)))
    assert renderer.get("band") == "3"
    rgba = renderer.get("nodataColor").split(",")
    assert len(rgba) == 4
    assert all(0 <= int(c) <= 255 for c in rgba)


def test_continuous_source_ramp_matches_matplotlib():
    shader = renderer_of(parse(continuous_style(0, 1, ramp="viridis"))).find(
        "rastershader/colorrampshader"
    )
    ramp = shader.find("colorramp")
    assert ramp.get("type") == "gradient"
    assert ramp.get("name") == "[source]"
    options = {opt.get("name"): opt.get("value") for opt in ramp.iter("Option")}
    first = matplotlib.colormaps["viridis"](0.0)
    assert options["color1"] == ",".join(str(round(c * 255)) for c in first[:3]) + ",255"
    assert options["rampType"] == "gradient"
    positions = [float(stop.split(";")[0]) for stop in options["stops"].split(":")]
    assert positions == sorted(positions)
    assert positions[0] > 0.0
    assert positions[-1] < 1.0


def test_continuous_diverging_is_symmetric_about_zero():
    root = parse(continuous_style(-3.0, 0.5, ramp="RdBu", diverging=True))
    renderer = renderer_of(root)
    assert float(renderer.get("classificationMin")) == -3.0
    assert float(renderer.get("classificationMax")) == 3.0
    items = items_of(root)
    middle = items[len(items) // 2]
    assert float(middle.get("value")) == 0.0
    assert middle.get("label") == "0"
    assert middle.get("color") == ramp_hex("RdBu", 0.5)


@pytest.mark.parametrize("value", [5.0, 0.0, -250.0, 1e-9])
def test_continuous_constant_range_is_widened(value):
    root = parse(continuous_style(value, value))
    renderer = renderer_of(root)
    lo = float(renderer.get("classificationMin"))
    hi = float(renderer.get("classificationMax"))
    assert lo < value < hi
    assert math.isclose((lo + hi) / 2, value, rel_tol=1e-12, abs_tol=1e-15)
    values = [float(item.get("value")) for item in items_of(root)]
    assert all(a < b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    ("vmin", "vmax", "inside"),
    [
        (math.nan, 3.0, 3.0),
        (3.0, math.nan, 3.0),
        (math.nan, math.nan, 0.0),
        (-math.inf, math.inf, 0.0),
        (np.float32("nan"), np.float64(2.0), 2.0),
    ],
)
def test_continuous_non_finite_inputs_give_valid_style(vmin, vmax, inside):
    xml = continuous_style(vmin, vmax)
    assert "nan" not in xml.lower().replace("nodatacolor", "")
    assert "inf" not in xml
    renderer = renderer_of(parse(xml))
    lo = float(renderer.get("classificationMin"))
    hi = float(renderer.get("classificationMax"))
    assert math.isfinite(lo) and math.isfinite(hi)
    assert lo < inside < hi


def test_continuous_accepts_numpy_scalars_and_ints():
    renderer = renderer_of(parse(continuous_style(np.float32(1.5), np.int64(4))))
    assert float(renderer.get("classificationMin")) == 1.5
    assert renderer.get("classificationMax") == "4"


def test_continuous_vmin_above_vmax_raises():
    with pytest.raises(ValueError, match="greater than vmax"):
        continuous_style(10.0, 1.0)
    with pytest.raises(SoilmapError):
        continuous_style(10.0, 1.0, diverging=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ramp": "NotARamp"}, "unknown colour ramp"),
        ({"ramp": "virdis"}, "did you mean 'viridis'"),
        ({"n_stops": 1}, "n_stops"),
        ({"n_stops": 2.5}, "n_stops"),
        ({"n_stops": True}, "n_stops"),
        ({"band": 0}, "band"),
        ({"label_unit": "t\x00ha"}, "cannot hold"),
    ],
)
def test_continuous_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(InputError, match=match) as info:
        continuous_style(0.0, 1.0, **kwargs)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- #
# paletted_style
# --------------------------------------------------------------------------- #
ENTRIES = [
    (10, "#FFAA00", "cropland"),
    (3, "#1a9850", "forest & woodland"),
    (7, "#4575B4", "a & b <c>"),
    (255, "#000000", '<10 "t/ha"'),
]


def test_paletted_layout_order_and_escaping():
    xml = paletted_style(ENTRIES, band=2)
    assert "a &amp; b &lt;c&gt;" in xml
    root = parse(xml)
    assert root.tag == "qgis"
    assert [child.tag for child in root.find("pipe")][:4] == PIPE_SIBLINGS
    assert root.findtext("blendMode") == "0"
    renderer = renderer_of(root)
    assert renderer.get("type") == "paletted"
    assert renderer.get("band") == "2"
    assert renderer.get("opacity") == "1"
    assert renderer.get("alphaBand") == "-1"
    assert renderer.get("nodataColor") == ""
    assert renderer.get("classificationMin") is None

    entries = renderer.findall("colorPalette/paletteEntry")
    got = [(int(e.get("value")), e.get("color"), e.get("label")) for e in entries]
    assert got == [(v, c.lower(), label) for v, c, label in ENTRIES]
    assert all(e.get("alpha") == "255" for e in entries)


def test_paletted_accepts_numpy_ints_and_lists():
    root = parse(paletted_style([[np.uint8(1), "#00ff00", "grass"]]))
    entry = renderer_of(root).find("colorPalette/paletteEntry")
    assert entry.get("value") == "1"


@pytest.mark.parametrize(
    "colour", ["red", "#fff", "#12345g", "00ff00", "#00ff0000", " #00ff00", 255]
)
def test_paletted_bad_colour_raises(colour):
    with pytest.raises(ValueError, match="#rrggbb"):
        paletted_style([(1, colour, "x")])


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([], "empty"),
        ([(1, "#000000", "a"), (1, "#ffffff", "b")], "already used"),
        ([(1.5, "#000000", "a")], "integer"),
        ([(True, "#000000", "a")], "integer"),
        ([("1", "#000000", "a")], "integer"),
        ([(1, "#000000")], "triple"),
        ([(1, "#000000", None)], "label"),
        ([(1, "#000000", "bad\x07label")], "cannot hold"),
        ("not entries", "sequence"),
    ],
)
def test_paletted_bad_entries_raise(entries, match):
    with pytest.raises(InputError, match=match):
        paletted_style(entries)


# --------------------------------------------------------------------------- #
# write_qml / style_path_for
# --------------------------------------------------------------------------- #
def test_write_qml_writes_and_replaces_whole(tmp_path):
    target = tmp_path / "gain_2030.qml"
    target.write_text("OLD " * 10_000, encoding="utf-8")
    xml = paletted_style([(1, "#00ff00", "forêt & bois")])
    result = write_qml(target, xml)
    assert result == target
    assert isinstance(result, pathlib.Path)
    assert target.read_text(encoding="utf-8") == xml
    assert os.listdir(tmp_path) == ["gain_2030.qml"]
    parse(target.read_text(encoding="utf-8"))


def test_write_qml_accepts_str_path_and_adds_final_newline(tmp_path):
    result = write_qml(str(tmp_path / "a.qml"), "<qgis/>")
    assert result == tmp_path / "a.qml"
    assert result.read_bytes() == b"<qgis/>\n"


def test_write_qml_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "stock.qml"
    target.write_text("previous style", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_qml(target, continuous_style(0, 1))
    assert target.read_text(encoding="utf-8") == "previous style"
    assert os.listdir(tmp_path) == ["stock.qml"]


def test_write_qml_missing_folder_and_bad_type(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_qml(tmp_path / "missing" / "x.qml", "<qgis/>")
    with pytest.raises(TypeError):
        write_qml(tmp_path / "x.qml", b"<qgis/>")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_write_qml_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_qml(tmp_path / "x.qml", "<qgis/>")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("raster", "style"),
    [
        ("out/gain_2030.tif", "out/gain_2030.qml"),
        ("gain_2030.tif", "gain_2030.qml"),
        ("out/stock.v2.tiff", "out/stock.v2.qml"),
        ("out/noext", "out/noext.qml"),
    ],
)
def test_style_path_for(raster, style):
    assert style_path_for(raster) == pathlib.Path(style)
    assert style_path_for(pathlib.Path(raster)) == pathlib.Path(style)
    assert isinstance(style_path_for(raster), pathlib.Path)


@pytest.mark.parametrize("bad", ["", ".", "out/.."])
def test_style_path_for_rejects_non_files(bad):
    with pytest.raises(ValueError, match="does not name a raster"):
        style_path_for(bad)


def test_sidecar_round_trip_beside_a_geotiff(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    raster = tmp_path / "gain_2030.tif"
    data = np.array([[0.5, 1.5], [2.5, np.nan]], dtype="float32")
    with rasterio.open(
        raster,
        "w",
        driver="GTiff",
        width=2,
        height=2,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=rasterio.transform.Affine(1.0, 0.0, 0.0, 0.0, -1.0, 2.0),
        nodata=np.nan,
    ) as dst:
        dst.write(data, 1)
    vmin, vmax = float(np.nanmin(data)), float(np.nanmax(data))
    path = write_qml(style_path_for(raster), continuous_style(vmin, vmax, label_unit="t C ha-1"))
    assert path == tmp_path / "gain_2030.qml"
    assert sorted(os.listdir(tmp_path)) == ["gain_2030.qml", "gain_2030.tif"]
    renderer = renderer_of(parse(path.read_text(encoding="utf-8")))
    assert float(renderer.get("classificationMin")) == 0.5
    assert float(renderer.get("classificationMax")) == 2.5
