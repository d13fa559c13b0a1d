"""SOC inputs as they come: real products, units, cleaning, plausibility, bounds, laziness."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import dask
import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject
from readcount import count_cell_reads
from realdata import DATA

from soilmap.errors import ConfigError, DepthConflictError, InputError, UnitsError
from soilmap.soc.open import open_soc
from soilmap.soc.spec import SocSpec
from soilmap.testing import raise_if_dask_computes

pytestmark = pytest.mark.realdata

GHANA = DATA / "ghana_soilgrids2017"
GSNMAP = DATA / "bhutan_gsnmap"
T0 = DATA / "bhutan_gsocseq" / "BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif"
T0_UNC = DATA / "bhutan_gsocseq" / "BT-GSOCSEQ-CORGT0-2022-0-30-UNCT.tif"
WHRC = DATA / "whrc2017" / "SOCS_0_30cm_year_2010AD_10km.tif"


def ghana(prop: str) -> list[Path]:
    return [GHANA / f"{prop}_m_sl{i}_250m_Ghana.tif" for i in range(1, 5)]


def ghana_spec(**kw) -> SocSpec:
    return SocSpec(
        **{
            "product": "soilgrids2017",
            "content": ghana("orcdrc"),
            "bulk_density": ghana("bldfie"),
            "coarse_fragments": ghana("crfvol"),
            **kw,
        }
    )


def gsnmap_spec(**kw) -> SocSpec:
    return SocSpec(
        **{
            "product": "gsnmap",
            "content": [GSNMAP / "BT-GSNM-CORG-2024-0-30-MEAN.tif"],
            "bulk_density": [GSNMAP / "BT-GSNM-BKD-2024-0-30-MEAN.tif"],
            "coarse_fragments": [GSNMAP / "BT-GSNM-CFRAGF-2024-0-30-MEAN.tif"],
            **kw,
        }
    )


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1).astype("float64")


def write_like(src_path: Path, dst: Path, values: np.ndarray, *, units: str | None) -> Path:
    with rasterio.open(src_path) as src:
        profile = src.profile.copy()
    profile.update(driver="GTiff", dtype="float32", nodata=-9999.0, compress="deflate")
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(dst, "w", **profile) as out:
        out.write(np.where(np.isfinite(values), values, -9999).astype("float32"), 1)
        if units:
            out.set_band_unit(1, units)
    return dst


@pytest.fixture(scope="module")
def ghana_soc():
    """The Ghana stock, opened once (default chunks) and computed once."""
    soc = open_soc(ghana_spec())
    return soc, soc.stock.values, soc.compute_counts()


# ------------------------------------------------------------------- acceptance: Ghana


@pytest.mark.parametrize("chunks", [None, (70, 100)])
def test_ghana_soilgrids2017_stock_matches_an_independent_numpy_trapezoid(chunks):
    with raise_if_dask_computes():
        soc = open_soc(ghana_spec(), chunks=chunks)
    stock = soc.stock.values

    # Independent: values at 0/5/15/30 cm, -32768 = missing, trapezoid over depth (m).
    orc, bld, crf = (np.stack([read(p) for p in ghana(x)]) for x in ("orcdrc", "bldfie", "crfvol"))
    bad = (orc == -32768) | (bld == -32768) | (crf == -32768)
    density = orc * bld * (1 - crf / 100)  # g C per m3 of soil, at each depth
    expected = np.trapezoid(density, x=[0.0, 0.05, 0.15, 0.30], axis=0) / 100  # g/m2 -> t/ha
    expected[bad.any(axis=0)] = np.nan

    np.testing.assert_array_equal(np.isnan(stock), np.isnan(expected))
    ok = np.isfinite(expected)
    np.testing.assert_allclose(stock[ok], expected[ok], rtol=1e-5)
    print(
        f"Ghana 0-30 cm: {ok.sum()} cells, median {np.median(stock[ok]):.1f} t C/ha, "
        f"max |diff| vs numpy {np.abs(stock[ok] - expected[ok]).max():.2e} t C/ha"
    )
    # The undeclared -32768 never leaks: no negative or absurd stock anywhere.
    assert np.nanmin(stock) > 0 and np.nanmax(stock) < 800
    counts = soc.compute_counts()
    assert counts["content:orcdrc_m_sl1_250m_Ghana:sentinel_-32768"] == int(
        (orc[0] == -32768).sum()
    )
    assert counts["stock:valid_cells"] == int(ok.sum())
    assert counts["stock:missing_coarse_fragments"] == int(
        ((crf == -32768) & (orc != -32768) & (bld != -32768)).any(axis=0).sum()
    )


def test_every_layer_states_units_and_the_conversions_are_listed(ghana_soc):
    soc, _, counts = ghana_soc
    assert soc.stock.attrs["units"] == "t C ha-1"
    assert soc.stock.dtype == np.float32 and soc.stock.attrs["long_name"] == "SOC stock 0-30 cm"
    assert soc.stock.attrs["history"]
    assert any(
        "orcdrc_m_sl1_250m_Ghana" in c and "g kg-1 → g kg-1 ×1" in c for c in soc.conversions
    )
    assert any("crfvol" in c and "vol % → 1 ×0.01" in c for c in soc.conversions)
    assert any(c.startswith("stock:") and "×0.01" in c for c in soc.conversions)
    assert any("coarse fragments are missing" in a for a in soc.assumptions)
    assert soc.stock.attrs["assumptions"] == "; ".join(soc.assumptions)
    report = soc.report(counts)
    json.dumps(report)
    assert report["sources"]["content"][0]["recognised_as"].startswith("soilgrids2017 orcdrc")
    assert {c["verdict"] for c in report["plausibility"]} == {"ok"}


def test_layers_given_in_any_order_are_put_in_depth_order(ghana_soc):
    shuffled = ghana_spec(
        content=ghana("orcdrc")[::-1],
        coarse_fragments=[ghana("crfvol")[i] for i in (2, 0, 3, 1)],
        unit_check="off",
    )
    np.testing.assert_array_equal(open_soc(shuffled).stock.values, ghana_soc[1])


def test_point_layers_do_not_reach_40_cm():
    with pytest.raises(InputError, match="do not cover 0–40 cm; soilmap does not extrapolate"):
        open_soc(ghana_spec(bottom_cm=40))


def test_a_file_in_the_wrong_role_is_named():
    with pytest.raises(UnitsError, match="bldfie at 0 cm.*given as the content"):
        open_soc(ghana_spec(content=ghana("bldfie"), bulk_density=ghana("orcdrc")))


# --------------------------------------------------------- acceptance: Bhutan GSNmap vs T0


def test_bhutan_gsnmap_stock_against_gsocseq_t0():
    """GSNmap (250 m) stock aggregated to T0's 30" grid; loose sanity bound only."""
    soc = open_soc(gsnmap_spec())
    t0 = open_soc(SocSpec(stock=T0, product="gsocseq"))
    assert any("% → g kg-1 ×10" in c for c in soc.conversions)
    assert any("g cm-3 → kg m-3 ×1000" in c for c in soc.conversions)
    gs = soc.stock.values.astype("float64")
    ref = t0.stock.values.astype("float64")
    agg = np.full(ref.shape, np.nan)
    cover = np.zeros(ref.shape)
    common = {
        "src_crs": "EPSG:4326",
        "dst_crs": "EPSG:4326",
        "src_transform": soc.stock.rio.transform(),
        "dst_transform": t0.stock.rio.transform(),
        "resampling": Resampling.average,  # area-weighted mean of the 250 m cells
    }
    reproject(gs, agg, src_nodata=np.nan, dst_nodata=np.nan, **common)
    reproject(np.isfinite(gs).astype("float64"), cover, dst_nodata=np.nan, **common)
    both = np.isfinite(agg) & np.isfinite(ref) & (cover > 0.99)  # T0 cells fully covered
    a, b = agg[both], ref[both]
    ratio = np.median(b / a)
    r = np.corrcoef(a, b)[0, 1]
    bias = float(np.mean(b - a))
    print(
        f"Bhutan clip, {both.sum()} T0 cells: median T0/GSNmap {ratio:.3f}, r {r:.3f}, "
        f"mean bias (T0 - GSNmap) {bias:+.1f} t C/ha, means {b.mean():.1f} vs {a.mean():.1f}"
    )
    assert both.sum() > 1000
    # Independent products (RothC-based T0 vs digital soil mapping of properties): they
    # should agree in level within a factor of 2; a unit slip would give 10x.
    assert 0.5 < ratio < 2


# ---------------------------------------------------- acceptance: Bhutan T0 cleaning


def test_bhutan_t0_with_relative_uncertainty():
    with raise_if_dask_computes():
        soc = open_soc(SocSpec(stock=T0, product="gsocseq", relative_uncertainty=T0_UNC))
        lazy = [soc.stock, soc.lower, soc.upper]
    assert all(dask.is_dask_collection(x) for x in lazy)
    stock, lower, upper, counts = dask.compute(soc.stock, soc.lower, soc.upper, soc.counts)
    stock, lower, upper = stock.values, lower.values, upper.values
    key = "stock:BT-GSOCSEQ-CORGT0-2022-0-30-MEAN:"
    assert counts[key + "fao_range_0_800"] == 15
    assert counts[key + "sentinel_-999"] == 0
    assert counts[key + "zero_stock"] == 1084
    assert counts["stock:valid_cells"] == 6506
    ok = np.isfinite(lower)
    assert np.all(lower[ok] <= stock[ok]) and np.all(stock[ok] <= upper[ok])
    assert np.all(lower[ok] >= 0)
    # Independent: bounds = T0 x (1 -/+ u/100) where u in 0-200 % and T0 in (0, 800].
    t0, u = read(T0), read(T0_UNC)
    keep = (t0 > 0) & (t0 <= 800) & (u >= 0) & (u <= 200) & (t0 != -9999) & (u != -9999)
    np.testing.assert_allclose(upper[keep], (t0 * (1 + u / 100))[keep], rtol=1e-5)
    np.testing.assert_allclose(lower[keep], np.maximum(0, t0 * (1 - u / 100))[keep], rtol=1e-5)
    assert counts["bounds:lower_negative_clipped"] == int((keep & (u > 100)).sum())
    report = soc.report(counts)
    json.dumps(report)
    assert report["uncertainty"]["cells"]["lower_negative_clipped"] >= 0
    assert soc.lower.attrs["units"] == soc.upper.attrs["units"] == "t C ha-1"


# ------------------------------------------------------ acceptance: units, ×10 mistakes


@pytest.fixture
def t0_kg_m2(tmp_path) -> Path:
    t0 = read(T0)
    values = np.where(t0 == -9999, np.nan, t0 / 10)  # the same stocks in kg C/m2
    return write_like(T0, tmp_path / "national_soc_kgm2.tif", values, units=None)


def test_kg_m2_declared_gives_the_same_stock_as_t_ha(t0_kg_m2):
    # valid_range is in the declared units of the file: 0-80 kg C/m2 = 0-800 t C/ha
    in_kg = open_soc(SocSpec(stock=t0_kg_m2, units="kg C m-2", valid_range=(0, 80))).stock.values
    in_t = open_soc(SocSpec(stock=T0, units="t C ha-1", valid_range=(0, 800))).stock.values
    np.testing.assert_allclose(in_kg, in_t, rtol=1e-6)
    soc = open_soc(SocSpec(stock=t0_kg_m2, units="kg C m-2"))
    assert soc.conversions == ["national_soc_kgm2 (stock): kg C m-2 → t C ha-1 ×10"]


def test_kg_m2_declared_as_t_ha_is_caught(t0_kg_m2):
    with pytest.raises(UnitsError) as err:
        open_soc(SocSpec(stock=t0_kg_m2, units="t C ha-1"))
    msg = str(err.value)
    print(msg)
    assert "declared in 't C ha-1'" in msg and "look like 'kg C m-2'" in msg
    assert "--soc-units" in msg and "units = '...' in [soc]" in msg


def test_stock_without_units_says_how_to_declare_them(tmp_path):
    renamed = write_like(
        T0, tmp_path / "BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif", read(T0), units=None
    )
    with pytest.raises(UnitsError) as err:
        open_soc(SocSpec(stock=renamed))
    msg = str(err.value)
    assert "does not state its units" in msg
    assert "--soc-units" in msg and "units = '...' in [soc]" in msg and "product = " in msg
    assert "looks like gsocseq T0" in msg


def test_unit_tag_in_the_file_is_used(tmp_path):
    tagged = write_like(T0, tmp_path / "soc.tif", read(T0), units="Mg C/ha")
    soc = open_soc(SocSpec(stock=tagged, valid_range=(0, 800)))
    assert soc.sources["stock"][0]["units"] == "Mg C/ha"


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"content_units": "%"}, "computed from a sample.*about 10 times more than typical"),
        ({"content_units": "dg kg-1"}, "computed from a sample.*about 10 times less than typical"),
        ({"bulk_density_units": "g cm-3"}, "bulk density 'bldfie_m_sl1.*look like 'kg m-3'"),
        ({"coarse_fragments_units": "1"}, "coarse fragments 'crfvol.*look like 'vol %'"),
    ],
)
def test_ghana_property_unit_mix_ups_are_caught(override, match):
    with pytest.raises(UnitsError, match=match):
        open_soc(ghana_spec(**override))


def test_gsnmap_bulk_density_in_kg_m3_is_caught():
    with pytest.raises(UnitsError, match="bulk density 'BT-GSNM-BKD.*look like 'g cm-3'"):
        open_soc(gsnmap_spec(bulk_density_units="kg m-3"))


def test_gsnmap_carbon_in_g_kg_is_caught_by_the_stock_check():
    with pytest.raises(UnitsError, match=r"computed from a sample.*median of 8\.1.*content_units"):
        open_soc(gsnmap_spec(content_units="g kg-1"))


def test_unit_check_warn_lets_the_user_go_on(t0_kg_m2):
    from soilmap.soc.plausibility import UnitsWarning

    with pytest.warns(UnitsWarning):
        soc = open_soc(SocSpec(stock=t0_kg_m2, units="t C ha-1", unit_check="warn"))
    assert soc.checks[0].verdict == "implausible"


# ---------------------------------------------------------------- laziness, one read


def test_open_clean_stock_is_lazy_and_counts_share_the_reads(monkeypatch):
    cells = count_cell_reads(monkeypatch)  # the plausibility sample's reads too
    with raise_if_dask_computes():
        soc = open_soc(ghana_spec(), chunks=(70, 100))
    assert all(dask.is_dask_collection(v) and v.ndim == 0 for v in soc.counts.values())
    # 12 files of 200 x 200 cells: 1M sample cells / 12 layers is more than a file, so
    # the sample read each one whole, before any compute ...
    assert len(cells) == 12 and all(c.shape == (200, 200) for c in cells.values())
    assert all((c == 1).all() for c in cells.values())
    dask.compute(soc.stock.data, soc.counts, scheduler="threads")
    # ... and the pass (outputs and counts together) took those cells from memory.
    assert {name: int(c.max()) for name, c in cells.items()} == dict.fromkeys(cells, 1)


def test_the_pass_reads_what_the_sample_did_not_read_and_nothing_twice(monkeypatch):
    cells = count_cell_reads(monkeypatch)
    soc = open_soc(ghana_spec(sample_cells=12 * 4096), chunks=(70, 100))
    # About 4096 cells of each file: two whole strips of 7 x 200 cells.
    sampled = {name: int((c > 0).sum()) for name, c in cells.items()}
    assert sampled == dict.fromkeys(cells, 2 * 7 * 200)
    dask.compute(soc.stock.data, soc.counts, scheduler="threads")
    assert all((c == 1).all() for c in cells.values())


# -------------------------------------------------------------- bounds and products


def test_sd_layer_with_z(tmp_path):
    sd = write_like(
        T0, tmp_path / "t0_sd.tif", np.where(read(T0) == -9999, np.nan, 8.0), units=None
    )
    soc = open_soc(SocSpec(stock=T0, product="gsocseq", sd=sd, z=1.645))
    stock, lower, upper = (x.values for x in (soc.stock, soc.lower, soc.upper))
    ok = np.isfinite(stock) & (stock > 1.645 * 8)
    np.testing.assert_allclose(upper[ok] - stock[ok], 1.645 * 8, rtol=1e-5)
    np.testing.assert_allclose(stock[ok] - lower[ok], 1.645 * 8, rtol=1e-5)
    assert soc.uncertainty["method"] == "stock ∓ 1.645 × sd"
    with pytest.raises(ConfigError, match="z = 1.645 for a 90 % interval"):
        SocSpec(stock=T0, sd=sd)


def test_lower_upper_layers_and_a_bound_in_the_wrong_unit(tmp_path):
    t0 = np.where(read(T0) == -9999, np.nan, read(T0))
    q05 = write_like(T0, tmp_path / "q05.tif", 0.7 * t0, units=None)
    q95 = write_like(T0, tmp_path / "q95.tif", 1.3 * t0, units=None)
    soc = open_soc(SocSpec(stock=T0, product="gsocseq", lower=q05, upper=q95,
                           uncertainty_units="t C ha-1"))  # fmt: skip
    counts = soc.compute_counts()
    assert counts["bounds:lower_above_stock_clipped"] == 0
    q95_kg = write_like(T0, tmp_path / "q95_kgm2.tif", 0.13 * t0, units=None)
    with pytest.raises(UnitsError, match="upper bound 'q95_kgm2.tif'"):
        open_soc(SocSpec(stock=T0, product="gsocseq", lower=q05, upper=q95_kg,
                         uncertainty_units="t C ha-1"))  # fmt: skip


def test_whrc_preset_and_depth_checks():
    soc = open_soc(SocSpec(stock=WHRC, product="whrc2017"))
    values = soc.stock.values
    assert np.isnan(values).any() and np.nanmin(values) >= 0  # declared -32767 masked
    assert soc.sources["stock"][0]["recognised_as"].startswith("whrc2017 socs 2010AD 0-30 cm")
    with pytest.raises(DepthConflictError, match="0-30 cm stock by its product preset, but 0-100"):
        open_soc(SocSpec(stock=WHRC, product="whrc2017", bottom_cm=100))


def test_spec_validation():
    with pytest.raises(ConfigError, match="either as a stock raster"):
        SocSpec()
    with pytest.raises(ConfigError, match="one bulk-density layer per carbon layer"):
        SocSpec(content=ghana("orcdrc"), bulk_density=ghana("bldfie")[:2])
    with pytest.raises(ConfigError, match="one kind of SOC uncertainty"):
        SocSpec(stock=T0, sd=T0, z=1.0, relative_uncertainty=T0_UNC)
    with pytest.raises(ConfigError, match="unknown SOC product 'soilgrids3'"):
        SocSpec(stock=T0, product="soilgrids3")
    cfg = SimpleNamespace(stock=T0, units="t C ha-1", nodata=None, top_cm=0.0, other=1)
    spec = SocSpec.from_config(cfg, product="gsocseq")
    assert spec.stock == T0 and spec.product == "gsocseq"
