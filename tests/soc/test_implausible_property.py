"""Property: any stock with injected sentinels or outliers stops the run, or, with
``on_implausible = "drop"``, gives exactly the clean run with those cells removed."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soilmap.config import RunConfig
from soilmap.errors import ImplausibleValuesError
from soilmap.pipeline.run import run
from soilmap.soc.ranges import SENTINELS
from soilmap.testing import make_grid, write_raster

GRID = make_grid((16, 20))
BAD = st.one_of(
    st.sampled_from([*SENTINELS, -3.4e38, 3.4e38]),
    st.floats(800.5, 1e10, width=32),
    st.floats(-1e6, -0.5, width=32),
)


def _cfg(tmp, stock, out, **soc):
    cfg = RunConfig.from_flags(
        soc=str(stock),
        soc_units="t C ha-1",
        regions=str(tmp / "r.gpkg"),
        region_id="id",
        out=str(out),
    )
    return dataclasses.replace(cfg, soc=dataclasses.replace(cfg.soc, unit_check="off", **soc))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**16),
    cells=st.lists(st.integers(0, 16 * 20 - 1), min_size=1, max_size=12, unique=True),
    bad=st.data(),
)
def test_injected_values_stop_or_drop_exactly(tmp_path_factory, seed, cells, bad):
    tmp = tmp_path_factory.mktemp("prop")
    box = shapely.box(*GRID.bounds)
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[box], crs=GRID.crs).to_file(tmp / "r.gpkg")
    clean = np.random.default_rng(seed).uniform(1, 300, GRID.shape).astype("float32")
    dirty = clean.copy().ravel()
    dirty[cells] = [bad.draw(BAD) for _ in cells]
    dirty_path = write_raster(tmp / "dirty.tif", dirty.reshape(GRID.shape), GRID, nodata=np.nan)
    removed = clean.copy().ravel()
    removed[cells] = np.nan
    removed_path = write_raster(
        tmp / "removed.tif", removed.reshape(GRID.shape), GRID, nodata=np.nan
    )
    with pytest.raises(ImplausibleValuesError, match=f"{len(cells)} cell"):
        run(_cfg(tmp, dirty_path, tmp / "e"), progress=False)
    assert not (tmp / "e").exists() or not list((tmp / "e").iterdir())
    dropped = run(_cfg(tmp, dirty_path, tmp / "d", on_implausible="drop"), progress=False)
    reference = run(_cfg(tmp, removed_path, tmp / "c"), progress=False)
    cols = ["area_ha", "soc_stock_t", "sequestration_t_per_yr"]
    np.testing.assert_allclose(
        dropped.zonal[cols].to_numpy(float), reference.zonal[cols].to_numpy(float), rtol=1e-9
    )
    assert dropped.manifest["value_checks"]["cells_dropped_as_implausible"] == len(cells)
