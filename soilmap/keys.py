"""Typed names of the layers of a run, instead of strings built here and parsed there.

A :class:`LayerKey` names one quantity (``soc_stock``, ``sequestration_rate``,
``gain_2030`` ...), the scenario it belongs to (``None`` for inputs) and the
uncertainty bound it is (``None`` for the central value).  Raster file stems and
zonal-table columns are derived from it in one place each.

>>> LayerKey("gain_2030", scenario="p4", bound="lower").stem(nested=True)
'p4/gain_2030_lower'
>>> LayerKey("soc_stock").stem(nested=True)
'soc_stock'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["Bound", "LayerKey"]

Bound = Literal["lower", "upper"]


@dataclass(frozen=True)
class LayerKey:
    """One layer of a run.

    Attributes
    ----------
    quantity : str
        What the layer holds, as in its file stem (``sequestration_rate``) or, for the
        per-group layers of the zonal sums, the projection's name (``sequestration``).
    scenario : str, optional
        The scenario the layer belongs to; ``None`` for inputs (stock, land use).
    bound : {"lower", "upper"}, optional
        Which uncertainty bound; ``None`` for the central value.
    """

    quantity: str
    scenario: str | None = None
    bound: Bound | None = None

    def stem(self, *, nested: bool) -> str:
        """File stem: ``[<scenario>/]<quantity>[_<bound>]`` (the folder when ``nested``)."""
        folder = f"{self.scenario}/" if nested and self.scenario is not None else ""
        return f"{folder}{self.quantity}{f'_{self.bound}' if self.bound else ''}"

    def at(self, bound: Bound | None) -> LayerKey:
        """The same layer at another bound."""
        return replace(self, bound=bound)
