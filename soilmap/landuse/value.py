"""The land-use value of a run: group fractions on the reference grid, and the group index.

:func:`landuse_on_grid` is the door of the land cover and its exclusion masks: it
opens them once and returns a :class:`LandUse`, which the scenario projection, the
dominant-group raster and the zonal sums all take.  The fractions are the general
form (a cell can be 60 % cropland); when they are 0/1 (a class raster on the
reference grid, no masks) the same reads also give each cell's group as an int8
index (-1 = none), which lets consumers replace a pass per group by one lookup.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import xarray as xr

from soilmap.grid import Grid
from soilmap.landuse.fractions import dominant_group, uniform_fractions
from soilmap.landuse.masks import apply_exclusion, exclusion_share
from soilmap.landuse.regrid import class_fractions_and_index
from soilmap.landuse.schemes import load_class_table
from soilmap.landuse.table import ALL_LAND, ClassTable

__all__ = ["LandUse", "all_land", "landuse_on_grid"]


@dataclass(frozen=True)
class LandUse:
    """Land-use groups on the reference grid.

    Attributes
    ----------
    fractions : xarray.DataArray
        Share of each cell in each group (1), dims ``("group", "y", "x")``.
    codes : dict of str to int
        Code of each group in the dominant-group raster.
    table : ClassTable or None
        The class table; None when every cell counts as one group (no land cover).
    index : xarray.DataArray or None
        Each cell's group (int8, -1 = none) when the fractions are 0/1.
    assumptions : tuple of str
        What was assumed, for ``run.json``.
    """

    fractions: xr.DataArray
    codes: dict[str, int]
    table: ClassTable | None = None
    index: xr.DataArray | None = None
    assumptions: tuple[str, ...] = field(default=())

    def dominant(self) -> xr.DataArray:
        """The code of each cell's largest group, lazily (see :func:`dominant_group`)."""
        return dominant_group(self.fractions, self.codes, group_index=self.index)

    def on_coords_of(self, like: xr.DataArray) -> LandUse:
        """The same layers carrying ``like``'s coordinates (its grid was checked to match).

        Coordinates computed from a transform in two ways differ by float noise
        (~1e-15 degree); xarray's default inner join would then silently crop results.
        """
        coords = {"y": like["y"].values, "x": like["x"].values}
        index = self.index.assign_coords(coords) if self.index is not None else None
        return LandUse(
            self.fractions.assign_coords(coords), self.codes, self.table, index, self.assumptions
        )


def all_land(like: xr.DataArray) -> LandUse:
    """Every cell with data in one group (no land cover given)."""
    return LandUse(
        uniform_fractions(like),
        {ALL_LAND: 1},
        assumptions=(
            "no land cover given: every cell with SOC data is eligible "
            "(suitable for SOC maps already restricted to farmland, e.g. GSOCseq)",
        ),
    )


def landuse_on_grid(
    path: str | os.PathLike,
    scheme: str | os.PathLike,
    grid: Grid,
    *,
    chunks: tuple[int, int] | None = None,
    unknown: Literal["error", "excluded"] = "error",
    method: Literal["area", "nearest"] = "area",
    exclude: Sequence[str | os.PathLike] = (),
    exclude_rasters: Sequence[str | os.PathLike] = (),
    declared_groups: Sequence[str] = (),
) -> LandUse:
    """Open a land cover from any grid as group fractions on ``grid``, minus the masks.

    Parameters
    ----------
    path : path-like
        Land-cover class raster.
    scheme : str or path-like
        Class-table preset or table file (see :func:`soilmap.load_class_table`).
    grid : Grid
        The reference (SOC) grid.
    chunks : (int, int), optional
        Chunks of the reference grid.
    unknown : {"error", "excluded"}
        Codes the table lacks: fail, or count them as excluded.
    method : {"area", "nearest"}
        Area-weighted fractions, or the class under each cell centre.
    exclude, exclude_rasters : sequence of path-like
        Vector masks and raster masks (non-zero cells) whose area is excluded.
    declared_groups : sequence of str, optional
        Custom groups of the table declared on purpose although close to a standard
        name (``[groups] custom``; see :mod:`soilmap.landuse.groups`).

    Returns
    -------
    LandUse
        Lazy; nothing but headers and the class table is read.
    """
    table = load_class_table(scheme, declared_groups=declared_groups)
    fractions, index = class_fractions_and_index(
        path, table, grid, chunks=chunks, unknown=unknown, method=method
    )
    assumptions: list[str] = []
    share = exclusion_share(exclude, exclude_rasters, grid, chunks=chunks)
    if share is not None:
        fractions = apply_exclusion(fractions, share)
        # Masks leave shares of cells: the fractions are no longer 0/1.
        index = None
        names = [str(q) for q in (*exclude, *exclude_rasters)]
        assumptions.append(
            "excluded the area under " + ", ".join(names) + " (shares of cells; raster masks "
            "are combined with vector masks as independent shares)"
        )
    codes = {g: table.group_code(g) for g in fractions["group"].values}
    return LandUse(fractions, codes, table, index, tuple(assumptions))
