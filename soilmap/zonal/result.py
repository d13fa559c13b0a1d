"""The computed zonal sums of a run: hectares and totals per region × land-use group."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AREA", "ZonalSums"]

#: Column of the hectares with data per (region, group).
AREA = "area_ha"


@dataclass(frozen=True)
class ZonalSums:
    """Result of :func:`zonal_sums` once computed.

    Attributes
    ----------
    values : numpy.ndarray
        ``(n_regions, n_groups, 1 + n_layers)``: hectares with data, then Σ layer × ha
        (layer units × ha, e.g. t C for a t C ha-1 layer).
    groups : tuple of str
        Land-use groups, in the order of axis 1.
    layers : tuple of hashable
        Layer names (str or :class:`~soilmap.keys.LayerKey`), in the order of
        ``values[..., 1:]``, ``mins`` and ``maxs``.
    mins, maxs : numpy.ndarray, optional
        ``(n_regions, n_groups, n_layers)`` minimum and maximum of each layer over the
        cells with coverage > 0, data and group fraction > 0; NaN where no such cell.
    extent_ha : numpy.ndarray, optional
        ``(n_regions,)`` hectares of each region inside the raster's extent, with or
        without data: ``extent_ha / region_areas_ha(regions)`` is the share of a region
        the raster covers.
    """

    values: np.ndarray
    groups: tuple[str, ...]
    layers: tuple[Hashable, ...]
    mins: np.ndarray | None = None
    maxs: np.ndarray | None = None
    extent_ha: np.ndarray | None = None

    def combine(self, other: ZonalSums) -> ZonalSums:
        """Statistics over the cells of both (e.g. two windows of one raster)."""

        def pick(a, b, f):
            if a is None or b is None:
                return a if b is None else b
            with np.errstate(invalid="ignore"):
                return f(a, b)

        return ZonalSums(
            values=self.values + other.values,
            groups=self.groups,
            layers=self.layers,
            mins=pick(self.mins, other.mins, np.fmin),
            maxs=pick(self.maxs, other.maxs, np.fmax),
            extent_ha=pick(self.extent_ha, other.extent_ha, np.add),
        )

    def with_multiples(self, derived: Mapping[Hashable, tuple[Hashable, np.ndarray]]) -> ZonalSums:
        """These sums plus layers that are a constant per group times another layer.

        Parameters
        ----------
        derived : mapping of str to (str, numpy.ndarray)
            New layer name → (existing layer, coefficient per group in the order of
            :attr:`groups`): the new layer is ``coefficient[g] × layer`` in every cell
            of group ``g``, so its sums are the layer's sums times the coefficient.
            Minima and maxima of the new layers are not computed (NaN).
        """
        if not derived:
            return self
        names = list(self.layers)
        cols = []
        for name, (source, coef) in derived.items():
            k = names.index(source)
            cols.append(self.values[:, :, 1 + k] * np.asarray(coef, "float64")[None, :])
            names.append(name)
        values = np.concatenate([self.values, np.stack(cols, axis=-1)], axis=-1)

        def pad(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            return np.concatenate([a, np.full((*a.shape[:2], len(cols)), np.nan)], axis=-1)

        return ZonalSums(
            values=values,
            groups=self.groups,
            layers=tuple(names),
            mins=pad(self.mins),
            maxs=pad(self.maxs),
            extent_ha=self.extent_ha,
        )

    def column(self, layer: Hashable, stat: str = "sum") -> np.ndarray:
        """One statistic of one layer, one value per row of :meth:`frame`.

        Parameters
        ----------
        layer : hashable
            A layer name (a str, or a :class:`~soilmap.keys.LayerKey`).
        stat : {"sum", "mean", "min", "max"}
            As in :meth:`frame`.
        """
        n_r, n_g, _ = self.values.shape
        k = self.layers.index(layer)
        if stat == "sum":
            return self.values[:, :, 1 + k].reshape(n_r * n_g)
        if stat == "mean":
            area = self.values[:, :, 0].reshape(n_r * n_g)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = self.values[:, :, 1 + k].reshape(n_r * n_g) / area
            means[area <= 0] = np.nan
            return means
        extreme = {"min": self.mins, "max": self.maxs}[stat]
        if extreme is None:
            return np.full(n_r * n_g, np.nan)
        return extreme[:, :, k].reshape(n_r * n_g)

    def frame(
        self, regions: pd.DataFrame, *, stats: Sequence[str] = ("sum", "mean", "min", "max")
    ) -> pd.DataFrame:
        """Long table: one row per region × group.

        Parameters
        ----------
        regions : pandas.DataFrame
            The regions passed to :func:`zonal_sums` (for ``region_id``).
        stats : sequence of {"sum", "mean", "min", "max"}
            Columns per layer: ``<layer>_sum`` (Σ value × ha), ``<layer>_mean``
            (area-weighted mean, NaN where the area is 0), ``<layer>_min``,
            ``<layer>_max`` (NaN where no cell counts, or not computed).

        Returns
        -------
        pandas.DataFrame
            Columns ``region_index``, ``landuse``, ``area_ha``, the per-layer
            columns, ``region_id``.
        """
        n_r, n_g, _ = self.values.shape
        rows = pd.DataFrame(
            {
                "region_index": np.repeat(np.arange(n_r), n_g),
                "landuse": np.tile(np.array(self.groups, dtype=object), n_r),
            }
        )
        flat = self.values.reshape(n_r * n_g, -1)
        rows[AREA] = flat[:, 0]
        n_l = len(self.layers)
        missing = np.full((n_r * n_g, n_l), np.nan)
        mins = self.mins.reshape(n_r * n_g, n_l) if self.mins is not None else missing
        maxs = self.maxs.reshape(n_r * n_g, n_l) if self.maxs is not None else missing
        with np.errstate(invalid="ignore", divide="ignore"):
            means = flat[:, 1:] / flat[:, :1]
        means[flat[:, 0] <= 0] = np.nan
        columns = {"sum": flat[:, 1:], "mean": means, "min": mins, "max": maxs}
        for k, name in enumerate(self.layers):
            if not isinstance(name, str):
                continue  # typed keys: read them with column()
            for stat in stats:
                rows[f"{name}_{stat}"] = columns[stat][:, k]
        rows["region_id"] = regions["region_id"].to_numpy()[rows["region_index"]]
        return rows
