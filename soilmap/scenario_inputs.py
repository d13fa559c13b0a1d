"""Rasters a scenario reads besides the stock: per-pixel rates and saturation stocks."""

from __future__ import annotations

import xarray as xr

from soilmap.config import RunConfig
from soilmap.errors import ConfigError, UnitsError
from soilmap.grid import Grid, check_same_grid
from soilmap.io.raster import open_raster
from soilmap.meta import with_units
from soilmap.scenario import RATE_UNITS, Scenario, saturation_concentration
from soilmap.stock import stock_from_layers
from soilmap.units import CANONICAL, convert

__all__ = ["rate_raster", "saturation_stock"]


def rate_raster(sc: Scenario, chunks: tuple[int, int], grid: Grid) -> xr.DataArray:
    assert sc.rate_raster is not None
    da = open_raster(
        sc.rate_raster,
        units=sc.rate_raster_units,
        chunks=chunks,
        what=f"rate raster of scenario {sc.name!r}",
    )
    unit = da.attrs["units"]
    if unit not in RATE_UNITS:
        raise UnitsError(
            f"rate raster {str(sc.rate_raster)!r} is in {unit!r}; relative annual rates must be "
            f"in one of {', '.join(RATE_UNITS)} (declare rate_raster_units in the scenario)."
        )
    check_same_grid(
        grid,
        Grid.from_dataarray(da),
        what=f"rate raster {str(sc.rate_raster)!r}",
        reference_name="the SOC grid",
    )
    out = (da * RATE_UNITS[unit]).astype("float32")
    return with_units(out, "yr-1", step=f"rate raster {unit!r} -> 'yr-1'", history_from=da)


def saturation_stock(
    config: RunConfig, sc: Scenario, grid: Grid, chunks: tuple[int, int]
) -> xr.DataArray:
    """Carbon-saturation stock (t C ha-1) of a scenario's cap, lazily.

    A saturation raster is read as given; a fine-fraction model gives a saturation
    concentration per layer, integrated over the SOC depth range with the SOC
    input's own bulk density (and coarse fragments), exactly as the stock is.
    """
    sat = sc.saturation
    assert sat is not None
    what = f"saturation of scenario {sc.name!r}"
    if sat.method == "raster":
        assert sat.stock is not None
        da = open_raster(sat.stock, units=sat.stock_units, chunks=chunks, what=what)
        check_same_grid(
            grid,
            Grid.from_dataarray(da),
            what=f"{what} {str(sat.stock)!r}",
            reference_name="the SOC grid",
        )
        return convert(da, CANONICAL["stock"], what=what)
    soc = config.soc
    if not soc.content:
        raise ConfigError(
            f"{what}: a fine-fraction model needs the SOC as layer properties (bulk density "
            "per layer) to turn saturation concentrations into stocks. Give [soc.layers], or a "
            "saturation stock raster (method = 'raster')."
        )
    n = len(soc.content)
    paths = sat.fine_fraction if len(sat.fine_fraction) > 1 else sat.fine_fraction * n
    if len(paths) != n:
        raise ConfigError(f"{what}: give one fine-fraction raster, or one per SOC layer ({n}).")
    fine = [
        convert(
            open_raster(
                q, units=sat.fine_fraction_units, chunks=chunks, what=f"{what} fine fraction"
            ),
            "%",
            what=f"fine fraction {q}",
        )
        for q in paths
    ]
    for q, f in zip(paths, fine, strict=True):
        check_same_grid(
            grid,
            Grid.from_dataarray(f),
            what=f"fine fraction {str(q)!r}",
            reference_name="the SOC grid",
        )
    csat = [saturation_concentration(f, sat) for f in fine]
    bd = [
        open_raster(q, units=soc.bulk_density_units, chunks=chunks, what="bulk density")
        for q in soc.bulk_density
    ]
    cf = (
        [
            open_raster(
                q,
                units=soc.coarse_fragments_units or "vol %",
                chunks=chunks,
                what="coarse fragments",
            )
            for q in soc.coarse_fragments
        ]
        if soc.coarse_fragments
        else None
    )
    out = stock_from_layers(
        csat,
        bd,
        soc.depths_cm,
        kind=soc.kind,
        coarse_fragments=cf,
        top=soc.top_cm,
        bottom=soc.bottom_cm,
    )
    out.attrs["long_name"] = f"SOC saturation stock {soc.top_cm:g}-{soc.bottom_cm:g} cm"
    out.name = "saturation_stock"
    return out
