"""Per-cell RothC parameters from the land-use groups, lazily.

RothC runs once per cell with the parameters of the cell's largest *modelled* group
(GSOCseq likewise runs one land-use class per pixel); a cell with no modelled group
(water, settlement, excluded ...) is not modelled and gets index -1.  With 0/1 land
use (a class raster on the SOC grid) the group index is the land use's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr

from soilmap.config.rothc import GroupParams
from soilmap.landuse.value import LandUse
from soilmap.rothc.params import GroupTable

__all__ = ["CellParams", "cell_params", "modelled_index"]


def _lookup(index: npt.NDArray[np.integer], table: npt.NDArray[np.float64]) -> np.ndarray:
    """``table[..., index]`` with NaN where ``index`` < 0; months (if any) first."""
    idx = np.asarray(index)
    safe = np.where(idx >= 0, idx, 0)
    out = np.take(table, safe, axis=-1)
    return np.where(idx >= 0, out, np.nan)


def modelled_index(landuse: LandUse, groups: GroupTable) -> xr.DataArray:
    """Each cell's modelled group (its position in ``groups.groups``), int8, -1 = none."""
    keep = np.array([p is not None for p in groups.params])
    if landuse.index is not None:
        remap = np.where(keep, np.arange(keep.size), -1).astype(np.int8)

        def apply(block: np.ndarray) -> np.ndarray:
            b = np.asarray(block)
            return np.where(b >= 0, remap[np.where(b >= 0, b, 0)], -1).astype(np.int8)

        return xr.apply_ufunc(
            apply, landuse.index, dask="parallelized", output_dtypes=[np.int8]
        ).rename("rothc_group")
    fr = landuse.fractions.fillna(0.0).where(xr.DataArray(keep, dims="group"), 0.0)
    best = fr.argmax("group").astype(np.int8)
    return best.where(fr.max("group") > 0, -1).astype(np.int8).rename("rothc_group")


class CellParams:
    """The parameters of each cell's group as lazy layers on the grid of ``index``."""

    def __init__(self, index: xr.DataArray, groups: GroupTable) -> None:
        self.index = index
        rows = [p for p in groups.params]
        nan12 = (np.nan,) * 12

        def col(get: Callable[[GroupParams], Any]) -> np.ndarray:
            return np.array([get(p) if p is not None else np.nan for p in rows], np.float64)

        def months(get: Callable[[GroupParams], Any]) -> np.ndarray:
            return np.array([get(p) if p is not None else nan12 for p in rows], np.float64).T

        self._scalars = {
            "dpm_rpm": col(lambda p: p.dpm_rpm),
            "npp_share": col(lambda p: p.npp_share),
        }
        self._monthly = {
            "cover": months(lambda p: p.cover),
            "input_months": months(lambda p: p.input_months),
            "factor": months(lambda p: (p.paddy_factor,) * 12),
        }

    def scalar(self, name: str) -> xr.DataArray:
        """A ``("y", "x")`` layer (``dpm_rpm``, ``npp_share``)."""
        table = self._scalars[name]
        out = xr.apply_ufunc(
            _lookup, self.index, kwargs={"table": table}, dask="parallelized",
            output_dtypes=[np.float64],
        )  # fmt: skip
        out.attrs["units"] = "1"
        return out.rename(name)

    def monthly(self, name: str) -> xr.DataArray:
        """A ``("month", "y", "x")`` layer (``cover``, ``input_months``, ``factor``)."""
        table = self._monthly[name]
        idx = da.asarray(self.index.data)
        data = da.map_blocks(
            _lookup,
            idx,
            table=table,
            new_axis=0,
            chunks=((12,), *idx.chunks),
            dtype=np.float64,
        )
        out = xr.DataArray(data, dims=("month", *self.index.dims), coords=self.index.coords)
        out.attrs["units"] = "1"
        return out.rename(name)


def cell_params(landuse: LandUse, groups: GroupTable) -> CellParams:
    """The per-cell parameters of a land use (see :class:`CellParams`)."""
    return CellParams(modelled_index(landuse, groups), groups)
