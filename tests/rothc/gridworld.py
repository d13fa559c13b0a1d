"""A small generated world for gridded RothC runs: rasters, regions and a config file.

The climate is the Rothamsted site climate of the official RothC example (first year of
``RothC_Py/RothC_input.dat``), shifted per cell: generated, not observed data.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely

from soilmap.testing import make_grid, write_raster

#: The first year of the official example (Rothamsted): °C, mm, open-pan mm.
SITE_TEMP = [3.73, 3.08, 5.49, 7.4, 10.94, 14.4, 16.28, 16.24, 13.78, 9.51, 6.22, 4.09]
SITE_RAIN = [52.2, 42.9, 35.2, 52, 64.9, 46.3, 63.5, 60.6, 58.8, 63.4, 72.5, 60.9]
SITE_EVAP = [6.6, 17.3, 40.7, 70.5, 103.5, 117.3, 130.1, 106.9, 61.9, 29.5, 8.8, 3.9]
SHAPE = (6, 8)
GRID = make_grid(SHAPE, crs="EPSG:32630", res=1000.0, origin=(500_000.0, 5_700_000.0))


def write_stack(path: Path, values: np.ndarray, units: str | None) -> Path:
    """A multi-band GeoTIFF on :data:`GRID` (bands first)."""
    profile = {
        "driver": "GTiff", "height": SHAPE[0], "width": SHAPE[1], "count": values.shape[0],
        "dtype": "float32", "nodata": -9999.0, "transform": GRID.transform, "crs": GRID.crs_wkt,
    }  # fmt: skip
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "w", **profile) as dst:
        dst.write(values.astype("float32"))
        if units:
            for b in range(1, values.shape[0] + 1):
                dst.set_band_unit(b, units)
    return path


def fields(seed: int = 7) -> dict[str, np.ndarray]:
    """The generated values: SOC, clay, land cover (ESA CCI codes), climate stacks."""
    rng = np.random.default_rng(seed)
    soc = rng.uniform(30, 90, SHAPE)
    soc[0, 0] = np.nan  # no SOC data
    lc = rng.choice([10, 10, 130, 50, 210], SHAPE).astype("uint8")
    lc[1, 1] = 210  # water: SOC but not modelled
    dt = rng.uniform(-2, 3, SHAPE)
    wet = rng.uniform(0.7, 1.5, SHAPE)
    temp = np.array(SITE_TEMP)[:, None, None] + dt
    rain = np.array(SITE_RAIN)[:, None, None] * wet
    evap = np.array(SITE_EVAP)[:, None, None] * rng.uniform(0.8, 1.2, SHAPE)
    warm_dt = rng.uniform(-0.5, 0.5, (24, 1, 1))
    return {
        "soc": soc, "clay": rng.uniform(8, 55, SHAPE), "lc": lc,
        "temp": temp, "rain": rain, "evap": evap,
        "warm_temp": np.tile(temp, (2, 1, 1)) + warm_dt,
        "warm_rain": np.tile(rain, (2, 1, 1)), "warm_evap": np.tile(evap, (2, 1, 1)),
    }  # fmt: skip


def write_world(
    d: Path,
    f: dict[str, np.ndarray],
    *,
    extra: str = "",
    climate: str = "",
    horizons: str = "[10, 20]",
) -> Path:
    """Write the rasters, two regions and ``run.toml`` into ``d``; return the config path."""
    d.mkdir(parents=True, exist_ok=True)
    write_raster(d / "soc.tif", np.nan_to_num(f["soc"], nan=-9999).astype("float32"), GRID,
                 nodata=-9999, units="t C ha-1")  # fmt: skip
    write_raster(d / "clay.tif", f["clay"].astype("float32"), GRID, nodata=-9999, units="%")
    write_raster(d / "lc.tif", f["lc"], GRID, nodata=0)
    for k in ("temp", "rain", "evap", "warm_temp", "warm_rain", "warm_evap"):
        write_stack(d / f"{k}.tif", f[k], "degC" if k.endswith("temp") else "mm")
    x0, y0 = GRID.transform.c, GRID.transform.f
    west = shapely.box(x0, y0 - 6000, x0 + 4000, y0)
    east = shapely.box(x0 + 4000, y0 - 6000, x0 + 8000, y0)
    gpd.GeoDataFrame(
        {"id": ["W", "E"], "name": ["West", "East"]}, geometry=[west, east], crs=GRID.crs_wkt
    ).to_file(d / "regions.gpkg")
    clim = climate or (
        '[rothc.climate]\ntemperature = "temp.tif"\nprecipitation = "rain.tif"\n'
        'evaporation = "evap.tif"\n'
    )
    text = f"""
[soc]
stock = "soc.tif"
units = "t C ha-1"

[landcover]
path = "lc.tif"
scheme = "esa_cci_lc"

[regions]
path = "regions.gpkg"
id_field = "id"
name_field = "name"

[output]
dir = "out"

[rothc]
clay = "clay.tif"
horizons = {horizons}
{extra}
{clim}
[rothc.warmup]
temperature = "warm_temp.tif"
precipitation = "warm_rain.tif"
evaporation = "warm_evap.tif"
"""
    cfg = d / "run.toml"
    cfg.write_text(text)
    return cfg
