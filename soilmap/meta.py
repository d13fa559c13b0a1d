"""Attribute helpers: units, long names and an append-only history on every layer.

Since xarray 2025.11 attrs survive arithmetic, so ``stock * area`` would keep
``"t C ha-1"``.  Every function that changes what a layer means goes through
:func:`with_units` so the attrs are always set on purpose.
"""

from __future__ import annotations

import datetime as _dt

import xarray as xr

from soilmap._version import __version__

__all__ = ["append_history", "require_units", "with_units"]


def _stamp(step: str) -> str:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{now} soilmap {__version__}: {step}"


def append_history(da: xr.DataArray, step: str) -> xr.DataArray:
    """Return ``da`` with one line appended to ``attrs["history"]``.

    Parameters
    ----------
    da : xarray.DataArray
        Layer to annotate (not modified).
    step : str
        What was done, e.g. ``"open_raster('soc.tif')"``.
    """
    out = da.copy(deep=False)
    out.attrs = dict(da.attrs)
    previous = out.attrs.get("history", "")
    out.attrs["history"] = (previous + "\n" if previous else "") + _stamp(step)
    return out


def with_units(
    da: xr.DataArray,
    units: str,
    *,
    step: str,
    long_name: str | None = None,
    history_from: xr.DataArray | None = None,
) -> xr.DataArray:
    """Set ``units`` (and optionally ``long_name``) and record ``step`` in history.

    Parameters
    ----------
    da : xarray.DataArray
        Result of a computation whose attrs may be stale.
    units : str
        Units of ``da`` after the step, e.g. ``"t C ha-1 yr-1"``.
    step : str
        History line for the step that produced ``da``.
    long_name : str, optional
        Human-readable name of the quantity.
    history_from : xarray.DataArray, optional
        Layer whose history ``da`` continues (default: ``da`` itself).
    """
    out = da.copy(deep=False)
    source = history_from if history_from is not None else da
    out.attrs = {"history": source.attrs.get("history", "")}
    if long_name is None:
        long_name = da.attrs.get("long_name")
    out.attrs["units"] = units
    if long_name:
        out.attrs["long_name"] = long_name
    return append_history(out, step)


def require_units(da: xr.DataArray, expected: str, *, what: str) -> None:
    """Raise :class:`~soilmap.errors.UnitsError` unless ``da`` is in ``expected`` units."""
    from soilmap.errors import UnitsError

    got = da.attrs.get("units")
    if got != expected:
        raise UnitsError(
            f"{what} must be in {expected!r} but is in {got!r}. "
            f"Convert it with soilmap.units.convert(layer, {expected!r}) first."
        )
