"""Group names in a whole run: a misspelt eligible group stops it, nothing in --out."""

from __future__ import annotations

import dataclasses
import json

import pytest

from soilmap.config import load_config
from soilmap.errors import ConfigError
from soilmap.pipeline.run import run
from soilmap.scenario.model import Scenario


def test_eligible_croplands_stops_the_run(sample_copy, tmp_path):
    out = tmp_path / "out"
    cfg = load_config(sample_copy / "tigray.toml").with_output(out)
    cfg = cfg.with_flags(eligible=("croplands",))
    with pytest.raises(ConfigError, match="'croplands' is not a land-use group.*'cropland'"):
        run(cfg, progress=False)
    assert not out.exists() or not list(out.iterdir())


def test_per_scenario_eligible_area_and_absent_groups(sample_copy, tmp_path):
    cfg = load_config(sample_copy / "tigray.toml").with_output(tmp_path / "o")
    cfg = dataclasses.replace(
        cfg,
        scenarios=(
            Scenario(name="a"),
            # not paddy: CCI 20 (irrigated or post-flooding) is paddy since issue 15, and
            # Southern Tigray has 20,672 ha of it; the CCI legend has no pasture class
            Scenario(name="b", rate={"pasture": 0.004}, eligible=("pasture",)),
        ),
    )
    result = run(cfg, progress=False)
    vc = json.loads((tmp_path / "o" / "run.json").read_text())["value_checks"]
    by = {s["scenario"]: s for s in vc["scenarios"]}
    t = result.zonal
    rows = t[(t["scenario"] == "a") & t["eligible"] & (t["landuse"] != "all")]
    assert by["a"]["eligible_area_ha"] == pytest.approx(float(rows["area_ha"].sum()), rel=1e-12)
    assert by["b"]["eligible_groups_absent"] == ["pasture"]
    assert by["b"]["eligible_area_ha"] == 0.0
    share = by["a"]["regions_share_with_soc_data"]
    a_all = t[(t["scenario"] == "a") & (t["landuse"] == "all")]
    assert share == pytest.approx(
        dict(zip(a_all["region_id"], a_all["covered_share"], strict=True))
    )
    assert 0.99 < share["ET0104"] <= 1.0 + 1e-9  # the zone the SOC clip covers
    assert any("pasture" in w for w in vc["warnings"])
