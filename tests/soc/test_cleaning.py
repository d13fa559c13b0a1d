"""Cleaning as declared rules: lazy, counted in the same graph, reported for run.json."""

from __future__ import annotations

import json

import dask
import dask.array as dsa
import numpy as np
import pytest
import rasterio
from realdata import DATA

from soilmap.errors import ConfigError
from soilmap.io.raster import open_raster
from soilmap.soc.cleaning import Rule, apply_rules, clip_bounds, rules_from_mappings
from soilmap.soc.products import get_layer
from soilmap.testing import make_grid, make_layer, raise_if_dask_computes

T0 = DATA / "bhutan_gsocseq" / "BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif"
T0_UNC = DATA / "bhutan_gsocseq" / "BT-GSOCSEQ-CORGT0-2022-0-30-UNCT.tif"


def _layer(values, units="t C ha-1", chunks=(1, 2)):
    values = np.asarray(values, dtype="float32")
    return make_layer(values, make_grid(values.shape), units=units, chunks=chunks)


def test_rules_are_lazy_and_counts_are_dask_scalars():
    da = _layer([[-999.0, 50.0, 5e9, np.nan]])
    with raise_if_dask_computes():
        c = apply_rules(da, [Rule.valid_range(0, 800), Rule.sentinel(-999)])
    assert all(isinstance(v, dsa.Array) and v.ndim == 0 for v in c.counts.values())
    # sentinels first, whatever the declared order; each cell counted once
    assert list(c.counts) == ["layer:sentinel_-999", "layer:range_0_800"]
    values, counts = dask.compute(c.data, c.counts)
    np.testing.assert_array_equal(np.isnan(values), [[True, False, True, True]])
    assert counts == {"layer:sentinel_-999": 1, "layer:range_0_800": 1}
    assert "cleaning: sentinel_-999" in c.data.attrs["history"]
    assert c.data.attrs["units"] == "t C ha-1"


@pytest.mark.parametrize(
    ("rule", "removed"),
    [
        (Rule.valid_range(0, 800), [False, False, False, True]),
        (Rule.valid_range(0, 800, min_inclusive=False), [True, False, False, True]),
        (Rule.valid_range(0, 800, max_inclusive=False), [False, False, True, True]),
        (Rule.valid_range(None, 800), [False, False, False, True]),
        (Rule.valid_range(1, None), [True, False, False, False]),
    ],
)
def test_inclusive_and_exclusive_limits(rule, removed):
    da = _layer([[0.0, 50.0, 800.0, 800.5]], chunks=None)
    out = apply_rules(da, [rule]).data.values
    np.testing.assert_array_equal(np.isnan(out[0]), removed)


def test_range_limits_are_converted_to_the_layer_units():
    # 0-800 t C/ha applied to a layer in kg C/m2 keeps 0-80 kg C/m2
    da = _layer([[5.0, 79.0, 81.0]], units="kg C m-2", chunks=None)
    rule = Rule.valid_range(0, 800, units="t C ha-1")
    out = apply_rules(da, [rule]).data.values
    np.testing.assert_array_equal(np.isnan(out[0]), [False, False, True])
    assert "x > 800 t C ha-1" in rule.describe()


def test_rule_validation_and_tables():
    with pytest.raises(ConfigError, match="needs min or max"):
        Rule(name="r", kind="range")
    with pytest.raises(ConfigError, match="needs values"):
        Rule(name="s", kind="sentinel")
    with pytest.raises(ConfigError, match="above max"):
        Rule.valid_range(10, 1)
    with pytest.raises(ConfigError, match="unknown key"):
        Rule.from_mapping({"name": "x", "kind": "range", "maximum": 3})
    (r,) = rules_from_mappings([{"kind": "sentinel", "values": [-9999]}])
    assert r.name == "sentinel_-9999" and r.values == (-9999.0,)


def test_report_is_json_with_parameters_and_counts():
    da = _layer([[-999.0, 50.0, 5e9, 60.0]])
    c = apply_rules(da, get_layer("gsocseq", "T0").rules, key_prefix="t0")
    (counts,) = dask.compute(c.counts)
    rep = c.report.to_dict(counts)
    json.dumps(rep)
    by = {r["rule"]: r for r in rep["rules"]}
    assert by["sentinel_-999"]["cells_removed"] == 1
    assert by["fao_range_0_800"]["cells_removed"] == 1
    assert by["fao_range_0_800"]["parameters"]["max"] == 800
    assert by["fao_range_0_800"]["parameters"]["max_inclusive"] is True
    assert rep["cells_removed"] == 2


@pytest.mark.realdata
def test_bhutan_t0_sentinel_and_outliers_match_an_independent_count():
    """GSOCseq preset on Bhutan's T0: counts equal a plain numpy count of the same rules."""
    with rasterio.open(T0) as src:
        raw = src.read(1, masked=True)
    valid = raw.compressed().astype("float64")
    expected = {
        "sentinel_-999": int((valid == -999).sum()),
        "sentinel_-9999": int((valid == -9999).sum()),  # declared, so already masked
        "zero_stock": int((valid == 0).sum()),
        "fao_range_0_800": int(((valid < 0) | (valid > 800)).sum()),
    }
    da = open_raster(T0, units="t C ha-1", chunks=(64, 128))
    with raise_if_dask_computes():
        c = apply_rules(da, get_layer("gsocseq", "T0").rules, key_prefix="T0")
    cleaned, counts = dask.compute(c.data, c.counts)
    got = {k.split(":", 1)[1]: int(v) for k, v in counts.items()}
    print("Bhutan T0 cleaning counts:", got, "numpy:", expected)
    assert got == expected
    # The documented facts: no -999 in T0 itself, 15 absurd outliers, 1084 zeros.
    assert expected == {
        "sentinel_-999": 0,
        "sentinel_-9999": 0,
        "zero_stock": 1084,
        "fao_range_0_800": 15,
    }
    kept = cleaned.values[np.isfinite(cleaned.values)]
    assert kept.size == valid.size - 15 - 1084 == 6506
    assert kept.max() <= 800 and kept.min() > 0
    assert float(kept.mean()) == pytest.approx(76.8, abs=0.05)  # FAO's cleaned mean


@pytest.mark.realdata
def test_bhutan_t0_uncertainty_sentinel_count():
    """The -999 sentinel of Bhutan's T0 is in its uncertainty map, at the zero-stock cells."""
    with rasterio.open(T0_UNC) as src:
        unc = src.read(1, masked=True)
    with rasterio.open(T0) as src:
        t0 = src.read(1, masked=True)
    da = open_raster(T0_UNC, units="%")
    c = apply_rules(da, get_layer("gsocseq", "T0_uncertainty").rules, key_prefix="u")
    got = {k.split(":", 1)[1]: int(v) for k, v in dask.compute(c.counts)[0].items()}
    v = unc.compressed()
    kept = v[v != -999]
    assert got == {
        "sentinel_-999": int((v == -999).sum()),
        "sentinel_-9999": 0,
        "fao_range_0_200": int(((kept < 0) | (kept > 200)).sum()),
    }
    assert got["sentinel_-999"] == int(((unc == -999) & (t0 == 0)).sum()) == 1084


def test_clip_bounds_counts():
    stock = _layer([[10.0, 10.0, 10.0, np.nan]])
    lower = _layer([[-1.0, 12.0, 5.0, 1.0]])
    upper = _layer([[20.0, 15.0, 8.0, 20.0]])
    with raise_if_dask_computes():
        lo, hi, counts = clip_bounds(stock, lower, upper)
    np.testing.assert_allclose(lo.values, [[0.0, 10.0, 5.0, np.nan]])
    np.testing.assert_allclose(hi.values, [[20.0, 15.0, 10.0, np.nan]])
    got = {k: int(v) for k, v in dask.compute(counts)[0].items()}
    assert got == {
        "bounds:lower_missing": 0,
        "bounds:upper_missing": 0,
        "bounds:lower_negative_clipped": 1,
        "bounds:lower_above_stock_clipped": 1,
        "bounds:upper_below_stock_clipped": 1,
    }
