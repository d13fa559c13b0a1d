"""Typed config values: each key has one TOML type, and a mistake names the file and the fix.

TOML has types; soilmap uses them.  ``overwrite = "no"`` is a string, not a boolean
(``bool("no")`` is True), ``horizons = 2030`` is not a list, ``start_year = "2020"`` is
not an integer: each is a :class:`~soilmap.errors.ConfigError` naming the file, the
section and key, the value and the expected type, before anything runs.  The CLI flags
go through the same checks (:func:`check_flag`).

>>> check_value(True, "bool", where="run.toml", key="[output] overwrite")
True
>>> check_value("no", "bool", where="run.toml", key="[output] overwrite")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
soilmap.errors.ConfigError: run.toml: [output] overwrite = 'no' is a string; expected a TOML ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from soilmap.errors import ConfigError

__all__ = [
    "FLAG_KINDS",
    "SCHEMA",
    "Kind",
    "check_flag",
    "check_flags",
    "check_section",
    "check_value",
]

Kind = Literal["bool", "int", "ints", "number", "numbers", "path", "paths", "str", "strs"]

_EXPECTED: dict[str, str] = {
    "bool": "a TOML boolean (true or false, without quotes)",
    "int": "an integer (e.g. 2020, without quotes)",
    "ints": "a list of integers (e.g. [2030, 2050])",
    "number": "a number (e.g. 30, without quotes)",
    "numbers": "a list of numbers (e.g. [-999, -9999])",
    "path": 'a path as a string (e.g. "data/soc.tif")',
    "paths": "a path or a list of paths as strings",
    "str": "a string",
    "strs": 'a list of strings (e.g. ["cropland", "grassland"])',
}

#: The type of each typed key, per section (keys not listed are checked where used).
SCHEMA: dict[str, dict[str, Kind]] = {
    "soc": {
        "stock": "path",
        "units": "str",
        "product": "str",
        "layer": "str",
        "nodata": "number",
        "sentinels": "numbers",
        "valid_range": "numbers",
        "product_rules": "bool",
        "lower": "path",
        "upper": "path",
        "sd": "path",
        "z": "number",
        "relative_uncertainty": "path",
        "uncertainty_units": "str",
        "unit_check": "str",
        "sample_cells": "int",
        "on_implausible": "str",
    },
    "soc.layers": {
        "content": "paths",
        "content_units": "str",
        "bulk_density": "paths",
        "bulk_density_units": "str",
        "coarse_fragments": "paths",
        "coarse_fragments_units": "str",
        "kind": "str",
        "top_cm": "number",
        "bottom_cm": "number",
    },
    "scenario": {
        "name": "str",
        "start_year": "int",
        "horizons": "ints",
        "growth": "str",
        "eligible": "strs",
        "co2e_factor": "number",
        "rate_raster": "path",
    },
    "landcover": {
        "path": "path",
        "scheme": "str",
        "unknown": "str",
        "method": "str",
        "exclude": "paths",
        "exclude_rasters": "paths",
    },
    "regions": {
        "path": "path",
        "id_field": "str",
        "name_field": "str",
        "layer": "str",
        "crs": "str",
        "invalid": "str",
        "emissions_field": "str",
        "duplicate_ids": "str",
        "missing_ids": "str",
    },
    "output": {"dir": "path", "overwrite": "bool", "compress": "str"},
    "groups": {"custom": "strs"},
    "run": {"workers": "int", "scheduler": "str", "memory_limit": "str"},
}

_TOML_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "table"
    return _TOML_NAMES.get(type(value), type(value).__name__)


def _is(value: Any, kind: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return number
    if kind in ("path", "str"):
        return isinstance(value, str) and (kind == "str" or value.strip() != "")
    if kind == "paths":
        return _is(value, "path") or (
            isinstance(value, list) and bool(value) and all(_is(v, "path") for v in value)
        )
    items = {"ints": "int", "numbers": "number", "strs": "str"}[kind]
    return isinstance(value, list | tuple) and all(_is(v, items) for v in value)


def check_value(value: Any, kind: Kind, *, where: str, key: str) -> Any:
    """``value`` if it has the type ``kind``, else a :class:`ConfigError` naming it.

    Parameters
    ----------
    value : Any
        As parsed from TOML (or given as a flag).
    kind : {"bool", "int", "ints", "number", "numbers", "path", "paths", "str", "strs"}
    where : str
        The file (or ``"command line"``).
    key : str
        ``"[section] key"`` or ``"--flag"``.
    """
    if _is(value, kind):
        return value
    hint = ""
    if kind in ("ints", "numbers", "strs") and _is([value], kind):
        hint = f" Write it as a list: {key.split()[-1]} = [{value!r}]."
    elif kind == "int" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        hint = f" Write {value.strip()} without quotes."
    name = _type_name(value)
    article = "an" if name[0] in "aeiou" else "a"
    raise ConfigError(
        f"{where}: {key} = {value!r} is {article} {name}; expected {_EXPECTED[kind]}.{hint}"
    )


def check_section(section: Mapping[str, Any], name: str, *, where: str) -> None:
    """Check every typed key of a parsed section (see :data:`SCHEMA`)."""
    for key, kind in SCHEMA.get(name, {}).items():
        if key in section:
            check_value(section[key], kind, where=where, key=f"[{name}] {key}")


def check_flag(value: Any, kind: Kind, flag: str) -> Any:
    """The same check for a command-line flag (``None``: not given)."""
    if value is None or value == ():
        return value
    return check_value(value, kind, where="command line", key=flag)


#: The type of each typed ``soilmap run`` flag (by its Python name).
FLAG_KINDS: dict[str, Kind] = {
    "overwrite": "bool",
    "start_year": "int",
    "horizon": "ints",
    "workers": "int",
    "eligible": "strs",
}


def check_flags(flags: Mapping[str, Any]) -> None:
    """Check the typed flags of :meth:`soilmap.config.RunConfig.from_flags`."""
    for name, kind in FLAG_KINDS.items():
        check_flag(flags.get(name), kind, "--" + name.replace("_", "-"))
