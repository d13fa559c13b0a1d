"""Rasters a scenario reads besides the stock: per-pixel rates and saturation stocks."""

from __future__ import annotations

import numpy as np
import xarray as xr

from soilmap.errors import ConfigError, UnitsError
from soilmap.grid import Grid, check_same_grid
from soilmap.io.raster import open_raster
from soilmap.meta import with_units
from soilmap.scenario.model import RATE_UNITS, Scenario, saturation_concentration
from soilmap.soc.spec import SocInputs
from soilmap.soc.stock import stock_from_layers
from soilmap.units import CANONICAL, convert

__all__ = ["fine_carbon_share", "rate_raster", "saturation_stock"]


def rate_raster(sc: Scenario, chunks: tuple[int, int], grid: Grid) -> xr.DataArray:
    """The scenario's per-pixel relative rate (yr-1) on the SOC grid, lazily."""
    if sc.rate_raster is None:
        raise ConfigError(f"scenario {sc.name!r} has no rate raster.")
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
    soc: SocInputs, sc: Scenario, grid: Grid, chunks: tuple[int, int]
) -> xr.DataArray:
    """Carbon-saturation stock (t C ha-1) of a scenario's cap, lazily.

    A saturation raster is read as given; a fine-fraction model gives a saturation
    concentration per layer, integrated over the SOC depth range with the SOC
    input's own bulk density (and coarse fragments) as opened for the stock: the
    same layers, units (from the config or the product preset) and depths.

    Parameters
    ----------
    soc : SocInputs
        The opened SOC input.
    sc : Scenario
        A scenario with a ``saturation`` cap.
    grid : Grid
        The SOC grid.
    chunks : (int, int)
        Chunks of the SOC grid.
    """
    sat = sc.saturation
    if sat is None:
        raise ConfigError(f"scenario {sc.name!r} has no saturation cap.")
    what = f"saturation of scenario {sc.name!r}"
    if sat.method == "raster":
        if sat.stock is None:
            raise ConfigError(f"{what}: method = 'raster' needs stock = PATH.")
        da = open_raster(sat.stock, units=sat.stock_units, chunks=chunks, what=what)
        check_same_grid(
            grid,
            Grid.from_dataarray(da),
            what=f"{what} {str(sat.stock)!r}",
            reference_name="the SOC grid",
        )
        return convert(da, CANONICAL["stock"], what=what)
    props = soc.properties
    if props is None:
        raise ConfigError(
            f"{what}: a fine-fraction model needs the SOC as layer properties (bulk density "
            "per layer) to turn saturation concentrations into stocks. Give [soc.layers], or a "
            "saturation stock raster (method = 'raster')."
        )
    n = len(props.bulk_density)
    if len(sat.fine_fraction) not in (1, n):
        raise ConfigError(f"{what}: give one fine-fraction raster, or one per SOC layer ({n}).")
    # One raster per layer follows the layers' order; one raster serves every layer.
    paths = (
        [sat.fine_fraction[i] for i in props.order]
        if len(sat.fine_fraction) > 1
        else list(sat.fine_fraction) * n
    )
    opened = {
        q: convert(
            open_raster(
                q, units=sat.fine_fraction_units, chunks=chunks, what=f"{what} fine fraction"
            ),
            "%",
            what=f"fine fraction {q}",
        )
        for q in dict.fromkeys(paths)
    }
    for q, f in opened.items():
        check_same_grid(
            grid,
            Grid.from_dataarray(f),
            what=f"fine fraction {str(q)!r}",
            reference_name="the SOC grid",
        )
    csat = [saturation_concentration(opened[q], sat) for q in paths]
    out = stock_from_layers(
        csat,
        list(props.bulk_density),
        props.depths_cm,
        kind=props.kind,
        coarse_fragments=list(props.coarse_fragments) if props.coarse_fragments else None,
        top=props.top_cm,
        bottom=props.bottom_cm,
    )
    out.attrs["long_name"] = f"SOC saturation stock {props.top_cm:g}-{props.bottom_cm:g} cm"
    out.name = "saturation_stock"
    return out


def fine_carbon_share(
    sc: Scenario, fractions: xr.DataArray, grid: Grid, chunks: tuple[int, int]
) -> xr.DataArray | None:
    """Share (0–1) of the SOC stock in the fine fraction for a capped scenario, lazily.

    Dims ``("group",)`` from the per-group values (or their literature defaults), or
    ``("y", "x")`` from ``fine_fraction_carbon_share_raster``; None without a cap.
    """
    sat = sc.saturation
    if sat is None:
        return None
    if sat.fine_fraction_carbon_share_raster is None:
        groups = [str(g) for g in fractions["group"].values]
        return xr.DataArray(
            np.array([sat.share_for(g) for g in groups], "float32"),
            dims="group",
            coords={"group": fractions["group"]},
        )
    path = sat.fine_fraction_carbon_share_raster
    what = f"fine-fraction carbon share of scenario {sc.name!r}"
    da = open_raster(path, units=sat.fine_fraction_carbon_share_units, chunks=chunks, what=what)
    check_same_grid(
        grid, Grid.from_dataarray(da), what=f"{what} {str(path)!r}", reference_name="the SOC grid"
    )
    unit = da.attrs["units"]
    factor = {"1": 1.0, "fraction": 1.0, "%": 0.01}.get(unit)
    if factor is None:
        raise UnitsError(
            f"{what} {str(path)!r} is in {unit!r}; give it as a share ('1') or in '%' "
            "(declare fine_fraction_carbon_share_units)."
        )
    out = (da * factor).astype("float32")
    return with_units(out, "1", step=f"fine-fraction carbon share {unit!r} -> '1'", history_from=da)
