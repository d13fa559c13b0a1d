"""RothC cases no official example exercises, checked by hand or against the equations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from soilmap.errors import RothCInputError
from soilmap.rothc.calibrate import BELOW_IOM, CALIBRATED, NO_CLIMATE, NO_INPUTS, calibrate
from soilmap.rothc.equilibrium import equilibrium, iom_falloon
from soilmap.rothc.model import Climate, Soil, decompose, partition, retention, split_inputs
from soilmap.rothc.modifiers import rm_moisture, rm_temperature, soil_water, step_deficit
from soilmap.rothc.scalar import step_year


def _soil(clay, depth=23.0, **kw) -> Soil:
    clay = np.atleast_1d(np.asarray(clay, dtype=float))
    co2, bio, hum = partition(clay)
    return Soil(co2, bio, hum, soil_water(clay, depth, **kw))


def test_manure_split_and_one_month_by_hand():
    # 10 t C of FYM into empty pools: 4.9 DPM, 4.9 RPM, 0.2 HUM, nothing decays this month
    added = split_inputs(0.0, 1.44, 10.0)
    assert added.tolist() == pytest.approx([4.9, 4.9, 0.0, 0.2])
    soil = _soil(20.0)
    pools, co2 = decompose(np.zeros((4, 1)), retention(np.ones(1)), soil, added[:, None])
    assert pools[:, 0] == pytest.approx([4.9, 4.9, 0.0, 0.2]) and co2[0] == 0.0
    # next month at rate 1: DPM keeps exp(-10/12)
    pools2, co2b = decompose(pools, retention(np.ones(1)), soil, np.zeros((4, 1)))
    assert pools2[0, 0] == pytest.approx(4.9 * math.exp(-10 / 12), rel=1e-14)
    lost = (
        4.9 * (1 - math.exp(-10 / 12))
        + 4.9 * (1 - math.exp(-0.3 / 12))
        + 0.2 * (1 - math.exp(-0.02 / 12))
    )
    x = 1.67 * (1.85 + 1.60 * math.exp(-0.0786 * 20.0))
    assert co2b[0] == pytest.approx(lost * x / (x + 1), rel=1e-13)
    assert pools2[2, 0] == pytest.approx(lost * 0.46 / (x + 1), rel=1e-13)


def test_below_minus_five_nothing_decomposes():
    assert rm_temperature([-5.01, -20.0]).tolist() == [0.0, 0.0]
    assert float(rm_temperature(-5.0)) == pytest.approx(47.91 / (math.exp(106.06 / 13.27) + 1))
    keep = retention(rm_temperature(np.array([-6.0])))
    assert (keep == 1.0).all()
    # a year entirely below -5 °C has no equilibrium: calibration says so
    soil = _soil(20.0)
    clim = Climate(
        np.full((12, 1), -8.0),
        np.full((12, 1), 50.0),
        np.full((12, 1), 5.0),
        np.ones((12, 1), dtype=np.int8),
    )
    plant = split_inputs(np.full((12, 1), 0.2), 1.44)[:, :, :].transpose(1, 0, 2)
    _, _, status, _ = calibrate(clim, soil, plant, 0 * plant, np.array([40.0]), np.array([3.0]))
    assert status.tolist() == [NO_CLIMATE]


@pytest.mark.parametrize(
    ("ratio", "dpm_share"), [(1.44, 1.44 / 2.44), (0.67, 0.67 / 1.67), (0.25, 0.2)]
)
def test_dpm_rpm_split_crop_grassland_woodland(ratio, dpm_share):
    added = split_inputs(1.0, ratio)
    assert added[0] == pytest.approx(dpm_share) and added[1] == pytest.approx(1 - dpm_share)


def test_woodland_inputs_build_more_soc_than_crop_inputs():
    # more RPM (0.25) decays slower than DPM: a larger equilibrium for the same input
    soil = _soil(25.0)
    clim = Climate(
        np.full((12, 1), 10.0),
        np.full((12, 1), 60.0),
        np.full((12, 1), 50.0),
        np.ones((12, 1), dtype=np.int8),
    )
    eqs = [
        equilibrium(clim, soil, split_inputs(np.full((12, 1), 0.25), r).transpose(1, 0, 2))
        for r in (1.44, 0.25)
    ]
    assert eqs[1].sum() > eqs[0].sum() * 1.05


def test_bare_soil_stops_drying_at_the_bare_limit():
    w = soil_water(20.0, 23.0)  # smd15 = -(20 + 26 - 4) = -42 mm
    assert float(w.smd15) == pytest.approx(-42.0) and float(w.smd_bare) == pytest.approx(
        -42 * 0.556
    )
    dry = step_deficit(np.array(0.0), 0.0, 100.0, 0, w)  # -75 mm wanted
    assert float(dry) == pytest.approx(-42 * 0.556)
    assert float(step_deficit(np.array(0.0), 0.0, 100.0, 1, w)) == pytest.approx(-42.0)
    # already drier than the bare limit (crop harvested): the deficit stays
    assert float(step_deficit(np.array(-40.0), 0.0, 10.0, 0, w)) == pytest.approx(-40.0)
    # option 2: bare soil dries to the wilting point
    w2 = soil_water(20.0, 23.0, opt_smdbare=2)
    assert float(step_deficit(np.array(0.0), 0.0, 100.0, 0, w2)) == pytest.approx(-42.0)
    # moisture modifier: 1 above -1 bar, 0.2 at -15 bar, linear between
    assert float(rm_moisture(-0.444 * 42 + 1e-9, w)) == 1.0
    assert float(rm_moisture(-42.0, w)) == pytest.approx(0.2)
    mid = -42 * (0.444 + 0.556 / 2)
    assert float(rm_moisture(mid, w)) == pytest.approx(0.6)


def test_dryland_option_2_allows_drier_soil_with_floor():
    vg = dict(silt=40.0, bulk_density=1.3, oc=1.0, min_rm_moist=0.1)
    w2 = soil_water(20.0, 23.0, opt_rmmoist=2, **vg)
    w3 = soil_water(20.0, 23.0, opt_rmmoist=3, **vg)
    assert float(w2.smd_max) < float(w2.smd15) < float(w2.smd1) < 0  # -1000 bar beyond -15
    assert float(w3.smd_max) == float(w3.smd15)
    deep = float(w2.smd15) - 10.0
    assert float(rm_moisture(deep, w2)) == pytest.approx(0.1)  # floor beyond -15 bar
    assert float(rm_moisture(float(w2.smd15), w2)) == pytest.approx(0.1)
    with pytest.raises(RothCInputError, match="silt"):
        soil_water(20.0, 23.0, opt_rmmoist=2)


def test_analytical_equilibrium_equals_long_spinup_to_1e_6():
    rng = np.random.default_rng(5)
    temps = rng.uniform(-8, 28, 12)
    months = [
        (float(t), float(r), float(e), int(c))
        for t, r, e, c in zip(
            temps,
            rng.uniform(0, 150, 12),
            rng.uniform(0, 160, 12),
            rng.integers(0, 2, 12),
            strict=True,
        )
    ]
    plant = rng.uniform(0, 0.5, 12).tolist()
    fym = [0.0] * 11 + [3.0]
    pools, smd = [0.0] * 4, 0.0
    for _ in range(5000):
        pools, smd = step_year(pools, smd, months, plant, 0.67, 31.0, 30.0, fym)
    soil = _soil(31.0, 30.0)
    arr = np.array(months)
    clim = Climate(arr[:, 0:1], arr[:, 1:2], arr[:, 2:3], arr[:, 3:4].astype(np.int8))
    added = split_inputs(np.array(plant)[:, None], 0.67, np.array(fym)[:, None]).transpose(1, 0, 2)
    eq = equilibrium(clim, soil, added)[:, 0]
    assert np.abs(eq - np.array(pools)).max() < 1e-6


def test_calibration_hits_observed_to_1e_6_and_counts_failures():
    rng = np.random.default_rng(1)
    n = 6
    soil = _soil(rng.uniform(5, 60, n), 30.0)
    clim = Climate(
        rng.uniform(0, 25, (12, n)),
        rng.uniform(0, 120, (12, n)),
        rng.uniform(0, 150, (12, n)),
        np.ones((12, n), dtype=np.int8),
    )
    c = rng.uniform(0.05, 0.3, (12, n))
    c[:, 1] = 0.0  # zero inputs
    plant = split_inputs(c, 1.44).transpose(1, 0, 2)
    fym = split_inputs(0.0 * c, 1.44, np.where(np.arange(12)[:, None] == 3, 0.2, 0.0)).transpose(
        1, 0, 2
    )
    obs = rng.uniform(20, 90, n)
    obs[2] = 0.5  # below IOM
    iom = iom_falloon(obs)
    clim.temp[:, 3] = np.nan  # no climate
    scale, pools, status, _ = calibrate(clim, soil, plant, fym, obs, iom)
    assert status.tolist() == [CALIBRATED, NO_INPUTS, BELOW_IOM, NO_CLIMATE, CALIBRATED, CALIBRATED]
    ok = status == CALIBRATED
    assert np.abs(pools[:, ok].sum(axis=0) + iom[ok] - obs[ok]).max() < 1e-6
    assert np.isnan(scale[~ok]).all()
    # the scaled inputs reach the same equilibrium again
    eq = equilibrium(clim, soil, plant * scale + fym)
    assert np.abs(eq[:, ok].sum(axis=0) + iom[ok] - obs[ok]).max() < 1e-6
