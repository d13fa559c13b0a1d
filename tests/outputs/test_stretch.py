"""Percentile stretches from fixed-bin histograms summed over windows; diverging ramps."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio

from soilmap.outputs.stretch import EDGES, percentiles
from soilmap.outputs.write import Continuous, Paletted


@pytest.mark.parametrize("scale", [1e-3, 1.0, 250.0, 1e5])
def test_windows_histograms_add_up_to_the_percentiles(scale):
    rng = np.random.default_rng(7)
    x = rng.lognormal(0.0, 1.0, 100_000) * scale
    x[::50] = np.nan
    counts = sum(np.histogram(part, bins=EDGES)[0] for part in np.array_split(x, 7))
    got = percentiles(counts, float(np.nanmin(x)), float(np.nanmax(x)))
    want = np.nanpercentile(x, [2, 98])
    # Bins are 1/64 decade wide: within 3.7 % of the value.
    assert np.allclose(got, want, rtol=0.037)


def test_sign_changing_values_and_empty():
    x = np.concatenate([np.linspace(-3, -1, 50), np.linspace(1, 9, 50)])
    p2, p98 = percentiles(np.histogram(x, bins=EDGES)[0], -3.0, 9.0)
    assert p2 == pytest.approx(np.percentile(x, 2), rel=0.04)
    assert p98 == pytest.approx(np.percentile(x, 98), rel=0.04)
    assert all(np.isnan(percentiles(np.zeros(EDGES.size - 1), np.nan, np.nan)))


def _shader(xml: str) -> ET.Element:
    return next(ET.fromstring(xml.split("\n", 1)[1]).iter("colorrampshader"))


def test_continuous_style_spans_the_stretch_and_diverges_on_sign_change():
    s = _shader(Continuous("YlGn").xml("t C ha-1", 0.0, 500.0, (20.0, 80.0)))
    assert (float(s.get("minimumValue")), float(s.get("maximumValue"))) == (20.0, 80.0)
    # A gain that is negative somewhere: symmetric about 0 on a diverging ramp.
    d = _shader(Continuous("YlGn").xml("t C ha-1", -5.0, 10.0, (-2.0, 6.0)))
    assert (float(d.get("minimumValue")), float(d.get("maximumValue"))) == (-6.0, 6.0)
    # Fixed ends win over the data.
    f = _shader(Continuous("YlGn", vmin=0.0, vmax=1.0).xml("1", -5.0, 10.0, (-2.0, 6.0)))
    assert (float(f.get("minimumValue")), float(f.get("maximumValue"))) == (0.0, 1.0)
    assert Paletted(((1, "#00ff00", "a"),)).xml("", 0, 1, None).count("paletteEntry") == 1


def test_sample_run_styles_use_its_percentiles(sample_run):
    for stem in ("soc_stock", "sequestration_rate"):
        with rasterio.open(sample_run.out_dir / f"{stem}.tif") as src:
            values = src.read(1, masked=True).compressed()
        shader = _shader((sample_run.out_dir / f"{stem}.qml").read_text())
        got = float(shader.get("minimumValue")), float(shader.get("maximumValue"))
        assert np.allclose(got, np.percentile(values, [2, 98]), rtol=0.037), stem
    qml = (sample_run.out_dir / "landuse_fractions.qml").read_text()
    assert 'band="2"' in qml  # cropland, the first eligible group (band 1 is excluded)


def test_landuse_has_an_embedded_colour_table_and_class_names(sample_run):
    qml = (sample_run.out_dir / "landuse.qml").read_text()
    classes = [
        (int(e.get("value")), e.get("color"), e.get("label"))
        for e in ET.fromstring(qml.split("\n", 1)[1]).iter("paletteEntry")
    ]
    with rasterio.open(sample_run.out_dir / "landuse.tif") as src:
        cmap, tags = src.colormap(1), src.tags(1)
    for code, colour, label in classes:
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert cmap[code][:3] == rgb and tags[f"CLASS_{code}"] == label
