"""The door of a gridded RothC run's rasters: clay, monthly climate, carbon inputs, manure.

Every raster is opened lazily on the SOC grid (a raster on another grid is refused with
the ``gdalwarp`` command that fixes it), its units come from the config or the file
(never guessed) and are converted explicitly, and every cell outside the plausible range
of the quantity is counted in the run's one pass (:attr:`RothcInputs.checks`): a count
above zero stops the run before anything is moved into place.

Monthly stacks are one multi-band file (12 bands, or 12 × years for the warm-up) or
one single-band file per month, in calendar order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rioxarray
import xarray as xr

from soilmap.config.rothc import ClimateConfig, RothcConfig
from soilmap.errors import RothCInputError, UnitsError
from soilmap.grid import Grid, check_same_grid
from soilmap.io.paths import gdal_path
from soilmap.io.raster import ChunkSpec, gdal_env, open_raster, read_layout, tile_aligned_chunks
from soilmap.meta import append_history, with_units
from soilmap.rothc.modifiers import PAN_FACTOR
from soilmap.units import convert

__all__ = ["PLAUSIBLE", "RangeCheck", "RothcInputs", "open_inputs", "open_stack"]

#: Plausible range of each quantity after conversion (catches unit slips: K as °C,
#: tenths of a degree, clay as a fraction ...).
PLAUSIBLE: dict[str, tuple[float, float, str]] = {
    "temperature": (-60.0, 45.0, "°C (monthly mean)"),
    "precipitation": (0.0, 10000.0, "mm per month"),
    "evaporation": (0.0, 1000.0, "mm per month"),
    "clay": (0.0, 100.0, "%"),
    "carbon_input": (0.0, 50.0, "t C ha-1 yr-1"),
    "manure": (0.0, 100.0, "t C ha-1 yr-1"),
}

_CELSIUS = {"°c", "degc", "deg c", "c", "celsius", "degrees c", "degree_celsius", "deg_c"}
_KELVIN = {"k", "kelvin"}
_MM = {"mm", "mm month-1", "mm/month", "mm mon-1", "kg m-2", "kg m-2 month-1", "mm/mon"}
_DEPTH = {"cm": 10.0, "m": 1000.0} | dict.fromkeys(_MM, 1.0)
_DAILY = {"mm day-1", "mm/day", "mm d-1", "mm/d", "kg m-2 s-1", "mm s-1"}
_CLAY = {"%": 1.0, "percent": 1.0, "g/100g": 1.0, "g kg-1": 0.1, "g/kg": 0.1, "1": 100.0}
_CLAY |= {"fraction": 100.0}
_WARP = (
    "the SOC grid (warp it onto the SOC grid: gdalwarp -t_srs <SOC CRS> -tr <res> "
    "-te <SOC bounds> -r bilinear)"
)


@dataclass(frozen=True)
class RangeCheck:
    """Cells of one input outside its plausible range, counted in the run's pass."""

    name: str
    files: tuple[str, ...]
    bad: xr.DataArray  # (y, x) count of out-of-range values per cell
    low: float
    high: float
    unit: str


@dataclass
class RothcInputs:
    """The opened RothC layers on the SOC grid (whole grid; the run crops them).

    ``temp``, ``rain``, ``evap`` are 12-month stacks (°C, mm, open-pan mm);
    ``warmup`` the ``12 × W`` month stacks of the warm-up or None.
    """

    clay: xr.DataArray
    temp: xr.DataArray
    rain: xr.DataArray
    evap: xr.DataArray
    carbon_input: xr.DataArray | None
    manure: xr.DataArray | None
    warmup: tuple[xr.DataArray, xr.DataArray, xr.DataArray] | None
    checks: list[RangeCheck] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)


def _factor(quantity: str, unit: str, what: str) -> tuple[float, float]:
    u = unit.strip().lower()
    if quantity == "temperature":
        if u in _CELSIUS:
            return 1.0, 0.0
        if u in _KELVIN:
            return 1.0, -273.15
        raise UnitsError(
            f"{what} is in {unit!r}; monthly mean temperature must be in °C ('degC') or K. "
            "Declare it with temperature_units."
        )
    if u in _DAILY:
        raise UnitsError(
            f"{what} is a rate ({unit!r}); RothC needs monthly totals in mm. Multiply by the "
            "days of each month (or seconds, for kg m-2 s-1) and declare units = 'mm'."
        )
    if u in _DEPTH:
        return _DEPTH[u], 0.0
    raise UnitsError(
        f"{what} is in {unit!r}; give monthly totals in mm (or cm, m), e.g. "
        f"{quantity}_units = 'mm'."
    )


def _one(
    path: Path, band: int, units: str | None, chunks: ChunkSpec, grid: Grid, what: str
) -> xr.DataArray:
    da = open_raster(path, units=units, band=band, chunks=chunks, what=what)
    check_same_grid(
        grid,
        Grid.from_dataarray(da),
        what=f"{what} {str(path)!r}",
        reference_name=_WARP,
    )
    return da


def _bands(path: Path, units: str | None, chunks: ChunkSpec, grid: Grid, what: str) -> xr.DataArray:
    """Every band of one file as ``("month", "y", "x")``: one read per block for all bands."""
    layout = read_layout(path, what=what)
    unit = units or layout.units
    if not unit:
        raise UnitsError(
            f"{what} {gdal_path(layout.path)!r} does not state its units. Declare them in "
            "the config (e.g. temperature_units = 'degC', precipitation_units = 'mm')."
        )
    check_same_grid(grid, layout.grid, what=f"{what} {str(path)!r}", reference_name=_WARP)
    if chunks is None or isinstance(chunks, int):
        chunks = tile_aligned_chunks(layout.block_shape, layout.grid.shape, chunks)
    with gdal_env():
        da = rioxarray.open_rasterio(
            gdal_path(layout.path),
            chunks={"band": -1, "y": chunks[0], "x": chunks[1]},
            masked=True,
            lock=False,
            cache=False,
        )
    assert isinstance(da, xr.DataArray)  # one file, one variable
    da = da.rename(band="month").drop_vars("month").astype("float32")
    da.attrs = {"units": unit, "long_name": layout.path.stem, "source": gdal_path(layout.path)}
    da.encoding = {}
    return append_history(da, f"open {layout.count} bands of {gdal_path(layout.path)!r}")


def open_stack(
    paths: Sequence[Path],
    units: str | None,
    quantity: str,
    *,
    months: int | None,
    chunks: ChunkSpec,
    grid: Grid,
    what: str,
) -> tuple[xr.DataArray, RangeCheck]:
    """A monthly stack ``("month", "y", "x")`` in °C or mm, and its range check.

    Parameters
    ----------
    paths : sequence of path
        One multi-band file, or one file per month.
    units : str, optional
        Units of the stored values (default: the file's).
    quantity : {"temperature", "precipitation", "evaporation"}
    months : int, optional
        Months required (12); None: any whole number of years (the warm-up).
    """
    if len(paths) == 1:
        stack = _bands(paths[0], units, chunks, grid, what)
    else:
        layers = [_one(q, 1, units, chunks, grid, what) for q in paths]
        stack = xr.concat(layers, dim="month", coords="minimal", compat="override", join="override")
    n = stack.sizes["month"]
    if (months is not None and n != months) or n % 12:
        need = f"{months}" if months is not None else "a multiple of 12"
        raise RothCInputError(
            f"{what}: {', '.join(str(q) for q in paths)} give(s) {n} months; "
            f"need {need} (one band per month, or one file per month, in calendar order)."
        )
    unit = stack.attrs["units"]
    scale, offset = _factor(quantity, unit, f"{what} {str(paths[0])!r}")
    history = stack
    stack = (stack * scale + offset).astype("float32") if (scale, offset) != (1, 0) else stack
    target = "degC" if quantity == "temperature" else "mm"
    step = f"{what}: {unit!r} -> {target!r}"
    stack = with_units(stack, target, step=step, history_from=history)
    lo, hi, label = PLAUSIBLE[quantity]
    bad = ((stack < lo) | (stack > hi)).sum("month")
    check = RangeCheck(what, tuple(str(q) for q in paths), bad, lo, hi, label)
    return stack, check


def _single(
    path: Path,
    units: str | None,
    quantity: str,
    chunks: ChunkSpec,
    grid: Grid,
    what: str,
) -> tuple[xr.DataArray, RangeCheck]:
    da = _one(path, 1, units, chunks, grid, what)
    unit = da.attrs["units"]
    if quantity == "clay":
        key = unit.strip().lower()
        if key not in _CLAY:
            raise UnitsError(
                f"{what} {str(path)!r} is in {unit!r}; clay must be in %, g kg-1 or a "
                "fraction (1). Declare clay_units."
            )
        out = with_units(
            (da * _CLAY[key]).astype("float32"), "%", step=f"clay {unit!r} -> '%'", history_from=da
        )
    else:
        out = convert(da, "t C ha-1 yr-1", what=f"{what} {str(path)!r}")
    lo, hi, label = PLAUSIBLE[quantity]
    bad = ((out < lo) | (out > hi)).astype("int32")
    return out, RangeCheck(what, (str(path),), bad, lo, hi, label)


def _climate(
    c: ClimateConfig, months: int | None, chunks: ChunkSpec, grid: Grid, label: str
) -> tuple[tuple[xr.DataArray, xr.DataArray, xr.DataArray], list[RangeCheck], list[str]]:
    temp, t_check = open_stack(
        c.temperature, c.temperature_units, "temperature", months=months, chunks=chunks,
        grid=grid, what=f"{label} temperature",
    )  # fmt: skip
    rain, r_check = open_stack(
        c.precipitation, c.precipitation_units, "precipitation", months=months, chunks=chunks,
        grid=grid, what=f"{label} precipitation",
    )  # fmt: skip
    notes = []
    if c.pet:
        pet, e_check = open_stack(
            c.pet, c.pet_units, "evaporation", months=months, chunks=chunks, grid=grid,
            what=f"{label} PET",
        )  # fmt: skip
        factor = float(c.pet_factor or 1.0)
        # RothC's deficit uses 0.75 × pan evaporation; with PET it is pet_factor × PET.
        evap = with_units(
            (pet * (factor / PAN_FACTOR)).astype("float32"),
            "mm",
            step=f"open-pan equivalent = PET × {factor:g} / {PAN_FACTOR:g}",
            history_from=pet,
        )
        notes.append(
            f"{label} climate: PET given; RothC's evapotranspiration = {factor:g} × PET "
            f"(pet_factor as stated), i.e. open-pan evaporation = PET × {factor:g} / 0.75"
        )
    else:
        evap, e_check = open_stack(
            c.evaporation, c.evaporation_units, "evaporation", months=months, chunks=chunks,
            grid=grid, what=f"{label} open-pan evaporation",
        )  # fmt: skip
    if temp.sizes["month"] != rain.sizes["month"] or temp.sizes["month"] != evap.sizes["month"]:
        raise RothCInputError(
            f"{label} climate: temperature, precipitation and evaporation give "
            f"{temp.sizes['month']}, {rain.sizes['month']} and {evap.sizes['month']} months; "
            "they must cover the same months."
        )
    return (temp, rain, evap), [t_check, r_check, e_check], notes


def open_inputs(rc: RothcConfig, *, grid: Grid, chunks: ChunkSpec) -> RothcInputs:
    """Open the ``[rothc]`` rasters on the (whole) SOC ``grid``, lazily.

    Raises
    ------
    soilmap.errors.GridMismatchError
        A raster is not on the SOC grid.
    soilmap.errors.UnitsError
        Units missing or not of the quantity.
    soilmap.errors.RothCInputError
        A stack with the wrong number of months.
    """
    clay, clay_check = _single(rc.clay, rc.clay_units, "clay", chunks, grid, "RothC clay")
    (temp, rain, evap), checks, notes = _climate(rc.climate, 12, chunks, grid, "RothC")
    checks.insert(0, clay_check)
    cin = manure = None
    if rc.carbon_input is not None:
        cin, check = _single(
            rc.carbon_input, rc.carbon_input_units, "carbon_input", chunks, grid,
            "RothC carbon input",
        )  # fmt: skip
        checks.append(check)
    if rc.manure is not None:
        manure, check = _single(
            rc.manure, rc.manure_units, "manure", chunks, grid, "RothC farmyard manure"
        )
        checks.append(check)
    warm = None
    if rc.warmup is not None:
        warm, wchecks, wnotes = _climate(rc.warmup, None, chunks, grid, "RothC warm-up")
        checks += wchecks
        notes += wnotes
    return RothcInputs(clay, temp, rain, evap, cin, manure, warm, checks, notes)


def paths_of(rc: RothcConfig) -> list[str | os.PathLike]:
    """Every input file of the RothC section (for run.json and error messages)."""
    return list(rc.input_paths())
