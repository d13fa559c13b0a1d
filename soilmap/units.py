"""Units of soil-carbon quantities: parsing, canonical names and conversions.

Units are data, not code: each quantity (stock, concentration, bulk density ...)
has one canonical unit and a table of accepted spellings with their factor *to*
the canonical unit.  A unit soilmap does not know is an error, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import xarray as xr

from soilmap.errors import UnitsError
from soilmap.meta import with_units

__all__ = [
    "CANONICAL",
    "Unit",
    "conversion_factor",
    "conversion_text",
    "convert",
    "parse_unit",
    "quantities_of",
]

#: Canonical unit of each quantity soilmap computes with.
CANONICAL: dict[str, str] = {
    "stock": "t C ha-1",
    "stock_rate": "t C ha-1 yr-1",
    "co2e_rate": "t CO2e ha-1 yr-1",
    "concentration": "g kg-1",
    "bulk_density": "kg m-3",
    "fraction": "1",
    "area": "ha",
    "depth": "cm",
}

# spelling -> (quantity, factor to canonical).  Matching is case-sensitive on
# purpose: "Mg" (megagram) and "mg" (milligram) differ by 10^9.  _normalise only
# folds spacing, "/" and superscripts; _add registers each spelling with the
# carbon symbol written "C", "c" or omitted.
_TABLE: dict[str, tuple[str, float]] = {}
# (quantity, spelling) -> factor, for spellings that mean something else by default:
# "%" alone is a mass share of carbon (concentration) unless the layer is known to be
# a volume share (coarse fragments) or a relative uncertainty.
_BY_QUANTITY: dict[tuple[str, str], float] = {}


def _normalise(text: str) -> str:
    t = text.strip().replace("·", " ").replace("*", " ")
    t = t.replace("²", "2").replace("³", "3").replace("⁻¹", "-1").replace("^", "")
    t = re.sub(r"\s*/\s*", "/", t)
    t = re.sub(r"\s+", " ", t)
    return t


def _add(quantity: str, factor: float, *spellings: str) -> None:
    for s in spellings:
        for variant in {s, s.replace(" C", " c"), s.replace(" C", "C"), s.replace(" C", "")}:
            _TABLE[_normalise(variant)] = (quantity, factor)


def _add_for(quantity: str, factor: float, *spellings: str) -> None:
    """Register spellings valid for ``quantity`` only when that quantity is asked for."""
    for s in spellings:
        _BY_QUANTITY[(quantity, _normalise(s))] = factor


# Stocks per area. 1 t/ha = 1 Mg/ha = 0.1 kg/m2 = 100 g/m2.
_add(
    "stock",
    1.0,
    "t C ha-1",
    "t C/ha",
    "Mg C ha-1",
    "Mg C/ha",
    "tonnes C/ha",
    "tonnes C ha-1",
    "tons C/ha",
    "T C/ha",
)
_add("stock", 10.0, "kg C m-2", "kg C/m2")
_add("stock", 0.01, "g C m-2", "g C/m2")
_add("stock", 0.001, "kg C ha-1", "kg C/ha")
_add(
    "stock_rate", 1.0, "t C ha-1 yr-1", "t C/ha/yr", "Mg C ha-1 yr-1", "Mg C/ha/yr", "t C ha-1 a-1"
)
_add("stock_rate", 1.0, "t C/(ha yr)", "t C/(ha a)", "Mg C/(ha yr)")
_add("co2e_rate", 1.0, "t CO2e ha-1 yr-1", "t CO2e/ha/yr", "t CO2 ha-1 yr-1", "t CO2/ha/yr")
# Mass concentration of organic carbon in fine earth.
_add("concentration", 1.0, "g kg-1", "g/kg", "g C kg-1", "g C/kg", "permille", "‰")
_add("concentration", 1.0, "mg g-1", "mg/g", "mg C g-1", "mg C/g")
_add("concentration", 0.1, "dg kg-1", "dg/kg", "dg C kg-1", "dg C/kg")
_add("concentration", 0.001, "mg kg-1", "mg/kg", "mg C kg-1", "mg C/kg")
_add("concentration", 10.0, "%", "percent", "% w/w", "% mass", "wt %", "wt%")
_add("concentration", 10.0, "g/100g", "g/100 g", "g 100g-1", "g C/100 g", "dag kg-1", "dag/kg")
# Bulk density of the fine earth.
_add("bulk_density", 1.0, "kg m-3", "kg/m3")
_add(
    "bulk_density",
    1000.0,
    "g cm-3",
    "g/cm3",
    "g/cc",
    "t m-3",
    "t/m3",
    "Mg m-3",
    "Mg/m3",
    "kg dm-3",
    "kg/dm3",
    "kg L-1",
    "kg/L",
    "g mL-1",
    "g/mL",
)
_add("bulk_density", 10.0, "cg cm-3", "cg/cm3")
# Shares (coarse fragments, relative uncertainties, land-use fractions).
_add("fraction", 1.0, "1", "fraction", "m3 m-3", "m3/m3")
_add(
    "fraction",
    0.01,
    "vol %",
    "volume %",
    "% vol",
    "%vol",
    "vol%",
    "% (v/v)",
    "cm3/100cm3",
    "cm3 100cm-3",
)
_add("fraction", 0.001, "cm3 dm-3", "cm3/dm3", "permille vol")
# A coarse-fragment or uncertainty layer "in %" is a share of volume or of the value.
_add_for("fraction", 0.01, "%", "percent")
_add_for("fraction", 0.001, "‰", "permille")


@dataclass(frozen=True)
class Unit:
    """A parsed unit: the quantity it measures and its factor to the canonical unit.

    Attributes
    ----------
    text : str
        The spelling given.
    quantity : str
        One of the keys of :data:`CANONICAL`.
    factor : float
        Multiply a value in ``text`` by ``factor`` to get the canonical unit.
    """

    text: str
    quantity: str
    factor: float

    @property
    def canonical(self) -> str:
        """Canonical unit of this quantity (e.g. ``"t C ha-1"``)."""
        return CANONICAL[self.quantity]


def parse_unit(text: str, *, quantity: str | None = None, what: str = "layer") -> Unit:
    """Parse a unit spelling.

    Parameters
    ----------
    text : str
        Unit as a user or a file wrote it, e.g. ``"kg C m-2"`` or ``"g/kg"``.
    quantity : str, optional
        Expected quantity (``"stock"``, ``"concentration"``, ...); a unit of another
        quantity is an error.
    what : str
        Name of the input, used in error messages.

    Raises
    ------
    soilmap.errors.UnitsError
        If the unit is unknown or measures another quantity.
    """
    key = _normalise(text)
    if quantity is not None and (quantity, key) in _BY_QUANTITY:
        return Unit(text=text, quantity=quantity, factor=_BY_QUANTITY[(quantity, key)])
    if key not in _TABLE:
        known = sorted({s for s, (q, _) in _TABLE.items() if quantity in (None, q)})
        known += sorted(s for (q, s) in _BY_QUANTITY if q == quantity and s not in known)
        raise UnitsError(
            f"{what}: unknown unit {text!r}. Known units"
            f"{' for ' + quantity if quantity else ''}: {', '.join(known)}."
        )
    q, factor = _TABLE[key]
    if quantity is not None and q != quantity:
        raise UnitsError(
            f"{what}: unit {text!r} measures {q.replace('_', ' ')}, "
            f"but a {quantity.replace('_', ' ')} is needed here (e.g. {CANONICAL[quantity]!r})."
        )
    return Unit(text=text, quantity=q, factor=factor)


def quantities_of(text: str) -> tuple[str, ...]:
    """Quantities a unit spelling can measure, its default quantity first.

    Examples
    --------
    >>> quantities_of("%")
    ('concentration', 'fraction')
    >>> quantities_of("kg C m-2")
    ('stock',)
    """
    key = _normalise(text)
    found = [_TABLE[key][0]] if key in _TABLE else []
    found += [q for (q, s) in _BY_QUANTITY if s == key and q not in found]
    return tuple(found)


def _pair(src: str, dst: str, quantity: str | None, what: str) -> tuple[Unit, Unit]:
    if quantity is None:
        common = [q for q in quantities_of(src) if q in quantities_of(dst)]
        # Nothing in common: let parse_unit phrase the error (unknown or other quantity).
        quantity = common[0] if common else parse_unit(src, what=what).quantity
    return parse_unit(src, quantity=quantity, what=what), parse_unit(
        dst, quantity=quantity, what=what
    )


def conversion_factor(src: str, dst: str, *, quantity: str | None = None) -> float:
    """Factor turning values in ``src`` units into ``dst`` units.

    Parameters
    ----------
    src, dst : str
        Unit spellings of the same quantity, e.g. ``"kg C m-2"`` and ``"t C ha-1"``.
    quantity : str, optional
        The quantity both measure; needed only to read ``"%"`` as a volume share
        (``"fraction"``) when converting between two ambiguous spellings.

    Examples
    --------
    >>> conversion_factor("kg C m-2", "t C ha-1")
    10.0
    >>> conversion_factor("%", "1")  # a share: "1" is a fraction, so "%" is too
    0.01
    """
    a, b = _pair(src, dst, quantity, "unit")
    return a.factor / b.factor


def conversion_text(src: str, dst: str, *, quantity: str | None = None) -> str:
    """Human-readable conversion, e.g. ``"kg C m-2 → t C ha-1 ×10"``."""
    return f"{src} → {dst} ×{conversion_factor(src, dst, quantity=quantity):g}"


def convert(
    da: xr.DataArray, to: str, *, what: str | None = None, quantity: str | None = None
) -> xr.DataArray:
    """Convert a layer to another unit of the same quantity, lazily.

    Parameters
    ----------
    da : xarray.DataArray
        Layer with ``attrs["units"]``.
    to : str
        Target unit, e.g. ``"t C ha-1"``.
    what : str, optional
        Name of the layer for error messages (default: ``da.name``).
    quantity : str, optional
        Quantity of the layer, when its unit alone is ambiguous (``"%"``); by default
        the quantity both units share (``"%"`` → ``"1"`` is a share).

    Returns
    -------
    xarray.DataArray
        The converted layer, float32, with ``units`` set to ``to``.
    """
    name = what or str(da.name or "layer")
    if "units" not in da.attrs:
        raise UnitsError(f"{name} has no units; declare them (attrs['units']) before converting.")
    src, dst = _pair(da.attrs["units"], to, quantity, name)
    factor = src.factor / dst.factor
    if factor == 1.0:
        out = da.copy(deep=False)
        out.attrs = dict(da.attrs, units=to)
        return out
    out = (da * factor).astype("float32")
    return with_units(
        out, to, step=f"convert {da.attrs['units']!r} -> {to!r} (x {factor:g})", history_from=da
    )
