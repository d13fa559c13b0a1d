"""Gridded RothC: :func:`soilmap.rothc.cells.run_cells` over dask blocks, lazily.

Every input is a dask-backed ``xarray.DataArray`` on one grid (dims ``("y", "x")``, or
``("month", "y", "x")`` for monthly stacks with the month axis in one chunk).  One
``map_blocks`` task per spatial block runs the whole model of its cells, so memory is
bounded by the block size and the same graph runs on a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr

from soilmap.rothc.cells import Forcing, run_cells
from soilmap.rothc.equilibrium import iom_falloon
from soilmap.rothc.model import Climate, Soil, partition, split_inputs
from soilmap.rothc.modifiers import soil_water

#: Units of the output layers.
UNITS = {"status": "1", "input_scale": "1"}


@dataclass(frozen=True)
class GridInputs:
    """The opened, unit-checked layers of a gridded run (see :mod:`soilmap.rothc.climate`).

    Attributes
    ----------
    clay : xarray.DataArray
        Clay, %.
    soc : xarray.DataArray
        Observed SOC stock of the topsoil, t C ha-1.
    temp, rain, evap : xarray.DataArray
        12-month stacks: °C, mm, open-pan mm.
    plant : xarray.DataArray
        Annual plant carbon input, t C ha-1 yr-1 (before calibration).
    cover : xarray.DataArray
        12-month 0/1 soil cover.
    input_share : xarray.DataArray
        12-month share of the annual plant input (sums to 1).
    dpm_rpm : xarray.DataArray
        DPM/RPM ratio of the plant input.
    fym : xarray.DataArray or None
        Annual farmyard manure, t C ha-1 yr-1 (added in equal monthly parts).
    factor : xarray.DataArray or None
        12-month extra rate factor (e.g. paddy), 1 where absent.
    depth_cm : float
        Topsoil depth, cm.
    warmup : tuple of xarray.DataArray or None
        ``(temp, rain, evap)`` stacks of ``12 × W`` months for the warm-up.
    """

    clay: xr.DataArray
    soc: xr.DataArray
    temp: xr.DataArray
    rain: xr.DataArray
    evap: xr.DataArray
    plant: xr.DataArray
    cover: xr.DataArray
    input_share: xr.DataArray
    dpm_rpm: xr.DataArray
    fym: xr.DataArray | None = None
    factor: xr.DataArray | None = None
    depth_cm: float = 30.0
    warmup: tuple[xr.DataArray, xr.DataArray, xr.DataArray] | None = None


#: A float64 array (blocks and batches of cells).
_F64 = npt.NDArray[np.float64]

#: Cells run together inside a block: the float64 working set (warm-up months, pools per
#: scenario) is bounded by this batch, not by the chunk (~8 KB a cell with 20 years).
BATCH_CELLS = 1 << 14


@dataclass(frozen=True)
class _BlockParams:
    """What every block of a gridded run shares: the model's settings and the layers out.

    Attributes
    ----------
    depth : float
        Topsoil depth, cm.
    scenarios : mapping of str to float
        Scenario name → plant-input multiplier.
    horizons : sequence of int
        Years after t0 to report.
    names : sequence of str
        The output layers, in order (:func:`output_names`).
    """

    depth: float
    scenarios: Mapping[str, float]
    horizons: Sequence[int]
    names: Sequence[str]


def _block(flat: _F64, monthly: _F64, warm: _F64, *, params: _BlockParams) -> _F64:
    shape = flat.shape[1:]
    f_all = flat.reshape(flat.shape[0], -1)
    mo_all = monthly.reshape(monthly.shape[0], -1)
    w_all = warm.reshape(warm.shape[0], -1)
    n = f_all.shape[1]
    out = np.empty((len(params.names), n))
    for i in range(0, n, BATCH_CELLS):
        cells = slice(i, min(i + BATCH_CELLS, n))
        out[:, cells] = _batch(
            f_all[:, cells].astype(np.float64),
            mo_all[:, cells].astype(np.float64),
            w_all[:, cells],
            params=params,
        )
    return out.reshape((len(params.names), *shape))


def _batch(f: _F64, mo: _F64, warm: _F64, *, params: _BlockParams) -> _F64:
    """The model of a batch of cells (arrays with cells last)."""
    clay, soc, plant, dpm_rpm, fym = f
    temp, rain, evap, cover, share, factor = (mo[12 * i : 12 * i + 12] for i in range(6))
    co2, bio, hum = partition(clay)
    soil = Soil(co2, bio, hum, soil_water(clay, np.full_like(clay, params.depth)))
    cov = np.where(np.isfinite(cover), cover, 1.0).astype(np.int8)
    clim = Climate(temp, rain, evap, cov, factor)
    warmup = None
    if warm.shape[0] > 1:
        w = warm.astype(np.float64)
        nw = w.shape[0] // 3
        reps = nw // 12
        warmup = Climate(
            w[:nw], w[nw : 2 * nw], w[2 * nw :], np.tile(cov, (reps, 1)), np.tile(factor, (reps, 1))
        )
    forcing = Forcing(
        spinup=clim,
        forward=clim,
        warmup=warmup,
        plant=split_inputs(plant * share, dpm_rpm).transpose(1, 0, 2),
        fym=split_inputs(np.zeros_like(share), dpm_rpm, fym / 12.0 + 0 * share).transpose(1, 0, 2),
    )
    out = run_cells(
        soil, forcing, soc, iom_falloon(soc), scenarios=params.scenarios, horizons=params.horizons
    )
    return np.stack([out[k] for k in params.names])


def output_names(scenarios: Mapping[str, float], horizons: Sequence[int]) -> list[str]:
    """The layers :func:`run_grid` returns, in order."""
    names = ["status", "input_scale", "soc_equilibrium", "soc_t0"]
    return names + [f"soc_{s}_{h}" for h in sorted(horizons) for s in scenarios]


def _data(a: xr.DataArray | None, like: xr.DataArray, fill: float, months: int = 0) -> da.Array:
    yx = da.asarray(like.data).chunks
    if a is None:
        shape = (months, *like.shape) if months else like.shape
        chunks = ((months,), *yx) if months else yx
        return da.full(shape, fill, chunks=chunks, dtype=np.float64)
    d = da.asarray(a.data)
    if d.ndim == 3:
        d = d.rechunk({0: -1})
    return d.rechunk({d.ndim - 2: yx[0], d.ndim - 1: yx[1]})


def run_grid(
    inputs: GridInputs, *, scenarios: Mapping[str, float], horizons: Sequence[int]
) -> xr.Dataset:
    """The lazy gridded run: a Dataset of the :func:`output_names` layers (t C ha-1).

    Parameters
    ----------
    inputs : GridInputs
        The layers, on one grid; ``clay`` sets the chunks.
    scenarios : mapping
        Scenario name → plant-input multiplier.
    horizons : sequence of int
        Years after ``t0`` to report.
    """
    like = inputs.clay.chunk() if inputs.clay.chunks is None else inputs.clay
    flat = da.stack(
        [
            _data(x, like, 0.0)
            for x in (inputs.clay, inputs.soc, inputs.plant, inputs.dpm_rpm, inputs.fym)
        ]
    )
    monthly = da.concatenate(
        [
            _data(x, like, 1.0, 12)
            for x in (
                inputs.temp, inputs.rain, inputs.evap, inputs.cover, inputs.input_share,
                inputs.factor,
            )
        ]
    )  # fmt: skip
    if inputs.warmup is not None:
        warm = da.concatenate([_data(x, like, 0.0) for x in inputs.warmup])
    else:
        warm = da.zeros((1, *like.shape), chunks=((1,), *da.asarray(like.data).chunks))
    names = output_names(scenarios, horizons)
    out = da.map_blocks(
        _block,
        flat.rechunk({0: -1}),
        monthly.rechunk({0: -1}),
        warm.rechunk({0: -1}),
        params=_BlockParams(float(inputs.depth_cm), dict(scenarios), tuple(horizons), tuple(names)),
        chunks=((len(names),), *da.asarray(like.data).chunks),
        dtype=np.float64,
    )
    layers = {}
    for i, name in enumerate(names):
        layer = xr.DataArray(out[i], dims=like.dims, coords=like.coords, name=name)
        layer.attrs["units"] = UNITS.get(name, "t C ha-1")
        layer.attrs["long_name"] = f"RothC {name.replace('_', ' ')}"
        layers[name] = layer
    return xr.Dataset(layers)


def target_layers(
    ds: xr.Dataset, scenarios: Mapping[str, float], years: int, *, rate: float = 0.004
) -> xr.Dataset:
    """Add the absolute sequestration rate and the share of the 4 ‰ target per scenario.

    ``asr_<s>`` = (SOC at ``years`` − SOC at t0) / ``years`` (t C ha-1 yr-1) and
    ``attainable_share_of_target_<s>`` = RothC gain / (``rate`` × SOC t0 × ``years``)
    (dimensionless; NaN where not calibrated or the stock is zero).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`run_grid`, with the horizon ``years``.
    scenarios : mapping
        The scenarios of the run.
    years : int
        The horizon, years after t0.
    rate : float
        The target's relative annual growth (0.004: 4 per 1000).
    """
    out = ds.copy()
    t0 = ds["soc_t0"]
    target = rate * t0 * years
    for s in scenarios:
        gain = ds[f"soc_{s}_{years}"] - t0
        asr = gain / years
        asr.attrs = {"units": "t C ha-1 yr-1", "long_name": f"RothC sequestration rate {s}"}
        share = (gain / target.where(target > 0)).rename(None)
        name = f"RothC gain / {rate * 1000:g} per 1000 gain, {s}"
        share.attrs = {"units": "1", "long_name": name}
        out[f"asr_{s}"] = asr
        out[f"attainable_share_of_target_{s}"] = share
    return out
