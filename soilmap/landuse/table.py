"""Land-cover class tables: source land-cover codes → land-use groups.

A *class table* says, for every code of a land-cover product, which land-use
*group* it belongs to (``cropland``, ``grassland``, ``forest`` ...).  The 4 per
1000 target applies per group, so the table decides which land gains carbon.

Tables are data, not code: each preset is a CSV file in ``soilmap/landuse/presets/``
(one per land-cover product, with the product's official codes, names and
colours), and users pass their own CSV or YAML file the same way.

Table files (CSV or YAML) are parsed, and presets found, in
:mod:`soilmap.landuse.schemes`, whose notes describe both file formats;
:func:`~soilmap.landuse.schemes.load_class_table` and
:func:`~soilmap.landuse.schemes.list_schemes` load and list them.

Groups
------
Standard groups have stable raster codes (:data:`STANDARD_GROUPS`); other
groups (lower-case identifiers) get codes from 20 upward in order of first
appearance in the table; 255 is the no-data code of a land-use raster.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from soilmap.errors import ClassTableError, UnknownClassError
from soilmap.landuse.groups import check_table_groups
from soilmap.landuse.ipcc import check_ipcc, follows

__all__ = [
    "ALL_LAND",
    "DEFAULT_ELIGIBLE",
    "LUT_NODATA",
    "LUT_UNKNOWN",
    "NEVER_ELIGIBLE",
    "NODATA_GROUP",
    "NODATA_GROUP_CODE",
    "OPT_IN_GROUPS",
    "STANDARD_GROUPS",
    "USER_GROUP_FIRST_CODE",
    "ClassTable",
    "GroupIndexer",
    "GroupInfo",
    "check_codes",
]


@dataclass(frozen=True)
class GroupInfo:
    """A standard land-use group: its raster code, display colour and meaning."""

    name: str
    code: int
    color: str
    description: str


# Codes are written to land-use rasters and read back by other tools, so they
# must never change; add new standard groups with new codes below 20.
STANDARD_GROUPS: Mapping[str, GroupInfo] = MappingProxyType(
    {
        g.name: g
        for g in (
            GroupInfo(
                "excluded", 0, "#d9d9d9", "built-up, bare, snow/ice, water: never gains soil carbon"
            ),
            GroupInfo("cropland", 1, "#f096ff", "annual and perennial crops, crop mosaics"),
            GroupInfo("grassland", 2, "#ffff4c", "grassland, and shrubs below forest thresholds"),
            GroupInfo("forest", 3, "#006400", "forest and woodland"),
            GroupInfo("pasture", 4, "#e6e64d", "managed grassland used for grazing or hay"),
            GroupInfo("paddy", 5, "#aaf0f0", "rice fields"),
            GroupInfo("shrubland", 6, "#ffbb22", "shrubs, heath, scrub kept apart (opt-in)"),
            GroupInfo("sparse", 7, "#fae6a0", "sparse vegetation, moss and lichen (opt-in)"),
            GroupInfo("wetland", 8, "#0096a0", "wetlands, bogs, flooded forests (opt-in)"),
        )
    }
)

#: Groups the 4 per 1000 target applies to unless the analyst says otherwise.
#: Group used when no land cover is given: every cell with SOC data is eligible.
ALL_LAND = "all_land"

DEFAULT_ELIGIBLE: tuple[str, ...] = ("cropland", "grassland", "pasture", "paddy", "forest")
#: Groups an analyst may add to the eligible list (carbon gains there are uncertain).
OPT_IN_GROUPS: tuple[str, ...] = ("shrubland", "sparse", "wetland")
#: Groups that are never eligible.
NEVER_ELIGIBLE: tuple[str, ...] = ("excluded",)

#: First raster code given to groups that are not standard.
USER_GROUP_FIRST_CODE = 20
#: Raster code of a cell with no land-use information.
NODATA_GROUP_CODE = 255
#: Reserved group name marking a no-data row in a table file.
NODATA_GROUP = "nodata"
#: Lookup value of a no-data code.
LUT_NODATA = -1
#: Lookup value of a code the table does not list.
LUT_UNKNOWN = -2
#: Largest code a table may hold (codes index a lookup array; uint16 rasters).
MAX_CODE = 65535

_GROUP_RE = re.compile(r"[a-z][a-z0-9_]*")
_COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")
# Colour-blind-safe (Okabe–Ito, then Tol muted) colours for user groups, cycled.
# fmt: off
_USER_GROUP_COLORS = (
    "#e69f00", "#56b4e9", "#009e73", "#0072b2", "#d55e00", "#cc79a7", "#332288",
    "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677", "#882255",
)
# fmt: on
_MAX_USER_GROUPS = NODATA_GROUP_CODE - USER_GROUP_FIRST_CODE


# --------------------------------------------------------------------------- #
# The table
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ClassTable:
    """Map from source land-cover codes to land-use groups.

    Build one with :func:`load_class_table`; direct construction is validated
    the same way (and raises :class:`~soilmap.errors.ClassTableError`).

    Parameters
    ----------
    name : str
        Preset name or file stem.
    source : str
        Where the table came from: ``"preset:<name>"`` or the file path.
    codes : tuple of int
        Source codes (non-negative, < 65536, unique).
    groups : tuple of str
        Group of each code.
    labels : tuple of str
        Name of each class (the product's official name for presets).
    colors : tuple of str
        ``#rrggbb`` per class; ``""`` is replaced by the colour of its group.
    nodata : tuple of int, optional
        Codes meaning "no data" (not a class; cells with them have no land use).
    title, product, reference : str, optional
        Human title, land-cover product, citation/URL of the official legend.
    nodata_labels : tuple of str, optional
        Label of each ``nodata`` code (``""`` where not given).
    aliases : tuple of str, optional
        Other names a preset answers to.
    declared_groups : tuple of str, optional
        Custom groups accepted although close to a standard name (``# groups:``).
    ipcc : tuple of str, optional
        IPCC (2006) land category of each class (:mod:`soilmap.landuse.ipcc`).
    ipcc_exceptions : tuple of (int, str), optional
        ``(code, reason)`` of classes whose group departs from their category.
    """

    name: str
    source: str
    codes: tuple[int, ...]
    groups: tuple[str, ...]
    labels: tuple[str, ...]
    colors: tuple[str, ...]
    nodata: tuple[int, ...] = ()
    title: str = ""
    product: str = ""
    reference: str = ""
    nodata_labels: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=(), compare=False)
    #: Custom groups declared on purpose although close to a standard name.
    declared_groups: tuple[str, ...] = field(default=(), compare=False)
    ipcc: tuple[str, ...] = ()
    ipcc_exceptions: tuple[tuple[int, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        where = f"class table {self.name!r} ({self.source})"
        codes = tuple(_as_code(c, where) for c in self.codes)
        nodata = tuple(_as_code(c, where) for c in self.nodata)
        groups = tuple(str(g).strip() for g in self.groups)
        labels = tuple("" if lab is None else str(lab) for lab in self.labels)
        colors = tuple("" if c is None else str(c).strip() for c in self.colors)
        nodata_labels = tuple(str(lab) for lab in self.nodata_labels) or ("",) * len(nodata)
        _validate_columns(where, codes, groups, labels, colors, nodata, nodata_labels)
        check_table_groups(groups, self.declared_groups, where=where)
        ipcc = tuple("" if c is None else str(c).strip() for c in self.ipcc)
        check_ipcc(codes, ipcc, self.ipcc_exceptions, where=where)
        user = _user_groups(groups)
        if len(user) > _MAX_USER_GROUPS:
            raise ClassTableError(
                f"{where} defines {len(user)} non-standard groups; at most {_MAX_USER_GROUPS} "
                "fit in a land-use raster. Merge groups."
            )
        n_colors = len(_USER_GROUP_COLORS)
        user_color = {g: _USER_GROUP_COLORS[i % n_colors] for i, g in enumerate(user)}
        filled = tuple(
            (
                c.lower()
                if c
                else (STANDARD_GROUPS[g].color if g in STANDARD_GROUPS else user_color[g])
            )
            for c, g in zip(colors, groups, strict=True)
        )
        set_ = object.__setattr__  # frozen: normalise fields once, here
        set_(self, "codes", codes)
        set_(self, "groups", groups)
        set_(self, "labels", labels)
        set_(self, "colors", filled)
        set_(self, "nodata", nodata)
        set_(self, "nodata_labels", nodata_labels)
        set_(self, "aliases", tuple(str(a) for a in self.aliases))
        set_(self, "ipcc", ipcc)

    # ---- groups --------------------------------------------------------- #
    def group_names(self) -> tuple[str, ...]:
        """Unique groups of the table in a stable order.

        Standard groups come first, by raster code; then other groups in order of
        first appearance.  This order defines the group index used by
        :meth:`lookup_array`.
        """
        return self._group_names

    @cached_property
    def _group_names(self) -> tuple[str, ...]:
        present = set(self.groups)
        standard = sorted(
            (g for g in present if g in STANDARD_GROUPS), key=lambda g: STANDARD_GROUPS[g].code
        )
        return (*standard, *_user_groups(self.groups))

    @cached_property
    def _user_codes(self) -> dict[str, int]:
        return {g: USER_GROUP_FIRST_CODE + i for i, g in enumerate(_user_groups(self.groups))}

    def group_code(self, group: str) -> int:
        """Raster code of ``group``.

        Standard groups have fixed codes (``cropland`` = 1, ``grassland`` = 2,
        ``forest`` = 3 ...) whether or not the table uses them; other groups get
        20, 21 ... in order of first appearance in this table.

        Raises
        ------
        ClassTableError
            If ``group`` is neither standard nor used by this table.
        """
        if group in STANDARD_GROUPS:
            return STANDARD_GROUPS[group].code
        if group in self._user_codes:
            return self._user_codes[group]
        raise ClassTableError(
            f"group {group!r} is not a standard group and class table {self.name!r} "
            f"({self.source}) does not use it; its groups are {list(self.group_names())}."
        )

    def group_color(self, group: str) -> str:
        """Display colour (``#rrggbb``) of ``group`` (see :meth:`group_code` for errors)."""
        if group in STANDARD_GROUPS:
            return STANDARD_GROUPS[group].color
        code = self.group_code(group)  # raises for a group the table does not use
        return _USER_GROUP_COLORS[(code - USER_GROUP_FIRST_CODE) % len(_USER_GROUP_COLORS)]

    def group_codes(self) -> dict[str, int]:
        """Raster code of every group of the table, in :meth:`group_names` order."""
        return {g: self.group_code(g) for g in self.group_names()}

    def ipcc_departures(self) -> list[tuple[int, str, str, str]]:
        """``(code, label, group, ipcc)`` of the classes whose group does not follow
        their IPCC land category (:func:`soilmap.landuse.ipcc.follows`); empty without
        an ``ipcc`` column."""
        rows = zip(self.codes, self.labels, self.groups, self.ipcc, strict=False)
        return [(c, lab, g, cat) for c, lab, g, cat in rows if not follows(cat, g)]

    # ---- lookups --------------------------------------------------------- #
    def lookup_array(
        self, unknown: Literal["error", "excluded"] = "error"
    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Lookup table from source code to group index, for ``lut[block]``.

        Parameters
        ----------
        unknown : {"error", "excluded"}
            What codes missing from the table map to: :data:`LUT_UNKNOWN` (-2, so
            the consumer can raise) or the index of ``"excluded"``.

        Returns
        -------
        lut : numpy.ndarray
            int16, read-only, length ``max(largest code + 1, 256)`` so any
            uint8 raster indexes it directly.  ``lut[code]`` is the index of the
            code's group in ``groups``, :data:`LUT_NODATA` (-1) for nodata
            codes, and -2 (or the ``"excluded"`` index) for other codes.  Codes
            at or past ``len(lut)`` are unknown too: check them, or use
            :meth:`code_to_group_index`, which does.
        groups : tuple of str
            :meth:`group_names`, plus ``"excluded"`` (in its standard place) when
            ``unknown="excluded"`` and the table has no excluded class.
        """
        _check_unknown(unknown)
        return self._lookup[unknown]

    @cached_property
    def _lookup(self) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
        out = {}
        size = max(max(self.codes + self.nodata) + 1, 256)
        for unknown in ("error", "excluded"):
            groups = self.group_names()
            if unknown == "excluded" and "excluded" not in groups:
                # "excluded" has the lowest standard code, so it goes first.
                groups = ("excluded", *groups)
            index = {g: i for i, g in enumerate(groups)}
            fill = index["excluded"] if unknown == "excluded" else LUT_UNKNOWN
            lut = np.full(size, fill, dtype=np.int16)
            lut[list(self.codes)] = [index[g] for g in self.groups]
            if self.nodata:
                lut[list(self.nodata)] = LUT_NODATA
            lut.setflags(write=False)  # shared by every caller: copy before editing
            out[unknown] = (lut, groups)
        return out

    def code_to_group_index(self, unknown: Literal["error", "excluded"] = "error") -> GroupIndexer:
        """A picklable callable mapping a block of codes to group indices.

        Unlike a bare ``lut[block]`` it also handles codes outside the lookup
        array (negative, or larger than any listed code) and NaN in float
        blocks (no data).  ``indexer.groups`` names the indices.

        Parameters
        ----------
        unknown : {"error", "excluded"}
            See :meth:`lookup_array`.

        Examples
        --------
        >>> from soilmap.landuse.schemes import load_class_table
        >>> table = load_class_table("esa_worldcover")
        >>> idx = table.code_to_group_index()
        >>> idx.groups[:4]
        ('excluded', 'cropland', 'grassland', 'forest')
        >>> idx(np.array([[40, 10], [0, 7]]))  # cropland, forest; nodata, unknown
        array([[ 1,  3],
               [-1, -2]], dtype=int16)
        """
        lut, groups = self.lookup_array(unknown)
        fill = groups.index("excluded") if unknown == "excluded" else LUT_UNKNOWN
        return GroupIndexer(lut=lut, groups=groups, fill=fill)

    # ---- export ---------------------------------------------------------- #
    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame, one row per code.

        Columns ``code, group, group_code, label, color, nodata, ipcc``; nodata codes
        come last with group ``"nodata"`` and group code 255.
        """
        rows = [
            (c, g, self.group_code(g), lab, col, False)
            for c, g, lab, col in zip(
                self.codes, self.groups, self.labels, self.colors, strict=True
            )
        ]
        rows += [
            (c, NODATA_GROUP, NODATA_GROUP_CODE, lab, "", True)
            for c, lab in zip(self.nodata, self.nodata_labels, strict=True)
        ]
        frame = pd.DataFrame(
            rows, columns=["code", "group", "group_code", "label", "color", "nodata"]
        )
        frame["ipcc"] = [*(self.ipcc or [""] * len(self.codes)), *[""] * len(self.nodata)]
        return frame.astype({"code": "int64", "group_code": "int64", "nodata": "bool"})

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as a CSV table file (e.g. to edit a copy of a preset).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = Path(path)
        buf = io.StringIO()
        for key, value in (
            ("name", self.name),
            ("title", self.title),
            ("product", self.product),
            ("source", self.reference),
            ("aliases", ", ".join(self.aliases)),
        ):
            if value:
                buf.write(f"# {key}: {value}\n")
        for code, reason in self.ipcc_exceptions:
            buf.write(f"# exception {code}: {reason}\n")
        writer = csv.writer(buf, lineterminator="\n")
        ipcc = self.ipcc or ("",) * len(self.codes)
        writer.writerow(["code", "group", "label", "color", "ipcc"])
        for row in zip(self.codes, self.groups, self.labels, self.colors, ipcc, strict=True):
            writer.writerow(row)
        for code, label in zip(self.nodata, self.nodata_labels, strict=True):
            writer.writerow([code, NODATA_GROUP, label, "", ""])
        path.write_text(buf.getvalue(), encoding="utf-8")
        return path

    def describe(self) -> str:
        """``'name' (source)``, for messages."""
        return f"{self.name!r} ({self.source})"


@dataclass(frozen=True, eq=False)
class GroupIndexer:
    """Map an array of source codes to group indices (see :meth:`ClassTable.code_to_group_index`).

    Attributes
    ----------
    lut : numpy.ndarray
        The lookup array of :meth:`ClassTable.lookup_array`.
    groups : tuple of str
        Group of each index.
    fill : int
        Value for codes outside ``lut`` (-2, or the index of ``"excluded"``).
    """

    lut: np.ndarray
    groups: tuple[str, ...]
    fill: int

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """Group index of each code of ``block`` (int16, same shape)."""
        arr = np.asarray(block)
        missing = None
        if arr.dtype.kind == "f":
            # Rasters read with masking come back as float with NaN for nodata.
            missing = ~np.isfinite(arr)
            codes = np.where(missing, -1, arr).astype(np.int64)
        else:
            codes = arr.astype(np.int64, copy=False)
        inside = (codes >= 0) & (codes < len(self.lut))
        out = np.full(codes.shape, self.fill, dtype=np.int16)
        out[inside] = self.lut[codes[inside]]
        if missing is not None:
            out[missing] = LUT_NODATA
        return out


# --------------------------------------------------------------------------- #
# Checks
# --------------------------------------------------------------------------- #
def check_codes(
    table: ClassTable,
    found_codes: Iterable[int],
    *,
    unknown: Literal["error", "excluded"] = "error",
    what: str = "land cover",
) -> None:
    """Check that every code found in the data is in ``table``.

    Parameters
    ----------
    table : ClassTable
        The class table.
    found_codes : iterable of int
        Codes present in the data (repeats, NaN and nodata codes are fine).
    unknown : {"error", "excluded"}
        ``"excluded"`` accepts unknown codes (they will count as excluded land).
    what : str
        Name of the data, for the message (e.g. ``"land cover 'lc.tif'"``).

    Raises
    ------
    UnknownClassError
        If ``unknown="error"`` and some codes are neither classes nor nodata.
    """
    _check_unknown(unknown)
    if unknown == "excluded":
        return
    if not isinstance(found_codes, np.ndarray):
        found_codes = np.asarray(list(found_codes), dtype=np.float64)
    values = np.unique(found_codes.ravel())  # unique first: rasters repeat codes a lot
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]  # NaN = masked nodata, not a class
    known = set(table.codes) | set(table.nodata)
    # Keep non-integral values as floats so the message shows them as found.
    found = {int(v) if float(v).is_integer() else float(v) for v in values.tolist()}
    bad = sorted(found - known)
    if bad:
        shown = bad if len(bad) <= 20 else [*bad[:20], "..."]
        raise UnknownClassError(
            f"{what} holds {len(bad)} code(s) {shown} that class table {table.describe()} "
            "does not list. Add them to a table file (copy the table with "
            f"load_class_table({table.name!r}).to_csv('my_table.csv'), add one row "
            "'code,group,label,color' per code, then use 'my_table.csv' as the scheme) or "
            "pass unknown='excluded' to count them as excluded land."
        )


def _check_unknown(unknown: str) -> None:
    if unknown not in ("error", "excluded"):
        raise ValueError(f"unknown must be 'error' or 'excluded', not {unknown!r}")


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def _as_code(value: Any, where: str) -> int:
    """A source code as int, or ClassTableError naming ``where``."""
    # bool is an int subclass but never a code; strings must be plain integers
    # ("10", "-3"), so "1.5" or "10.0" in a table file is reported, not truncated.
    ok = not isinstance(value, bool) and (
        isinstance(value, int | np.integer)
        or (isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value) is not None)
    )
    if not ok:
        raise ClassTableError(
            f"{where}: code {value!r} is not an integer. Codes are the integer pixel values "
            "of the land-cover raster (e.g. 10, 111)."
        )
    value = int(value)
    if not 0 <= value <= MAX_CODE:
        raise ClassTableError(
            f"{where}: code {value} is outside 0..{MAX_CODE}. Codes must be non-negative "
            "integers that fit an unsigned 16-bit raster."
        )
    return value


def _validate_columns(
    where: str,
    codes: Sequence[int],
    groups: Sequence[str],
    labels: Sequence[str],
    colors: Sequence[str],
    nodata: Sequence[int],
    nodata_labels: Sequence[str],
    *,
    rows_at: Sequence[str] | None = None,
    nodata_at: Sequence[str] | None = None,
) -> None:
    n = len(codes)
    if not (len(groups) == len(labels) == len(colors) == n):
        raise ClassTableError(
            f"{where}: codes, groups, labels and colors must have one entry per class "
            f"(got {n}, {len(groups)}, {len(labels)}, {len(colors)})."
        )
    if len(nodata_labels) != len(nodata):
        raise ClassTableError(f"{where}: nodata_labels must have one entry per nodata code.")
    if n == 0:
        raise ClassTableError(
            f"{where} lists no classes. Add one row 'code,group,label,color' per land-cover code."
        )
    rows_at = rows_at or [f"class {i + 1}" for i in range(n)]
    nodata_at = nodata_at or [f"nodata code {i + 1}" for i in range(len(nodata))]
    seen: dict[int, list[str]] = {}
    for code, at in zip([*codes, *nodata], [*rows_at, *nodata_at], strict=True):
        seen.setdefault(code, []).append(at)
    dup = {c: ats for c, ats in seen.items() if len(ats) > 1}
    if dup:
        detail = "; ".join(f"{c} at {', '.join(ats)}" for c, ats in sorted(dup.items()))
        raise ClassTableError(
            f"{where} has duplicate codes {sorted(dup)} ({detail}). Each code may appear "
            "once, as a class or as nodata: remove or merge the repeated rows."
        )
    bad_groups = [
        (g, at)
        for g, at in zip(groups, rows_at, strict=True)
        if not _GROUP_RE.fullmatch(g) or g == NODATA_GROUP
    ]
    if bad_groups:
        detail = ", ".join(f"{g!r} at {at}" for g, at in bad_groups[:10])
        raise ClassTableError(
            f"{where} has invalid group names: {detail}. Group names are lower-case "
            "identifiers ([a-z][a-z0-9_]*), e.g. cropland, grassland, forest, pasture, paddy, "
            "shrubland, sparse, wetland, excluded or your own such as 'orchard'."
        )
    bad_colors = [
        (c, at) for c, at in zip(colors, rows_at, strict=True) if c and not _COLOR_RE.fullmatch(c)
    ]
    if bad_colors:
        detail = ", ".join(f"{c!r} at {at}" for c, at in bad_colors[:10])
        raise ClassTableError(
            f"{where} has invalid colours: {detail}. Write colours as '#rrggbb' (e.g. "
            "#006400) or leave them empty to use the group colour."
        )


def _user_groups(groups: Iterable[str]) -> list[str]:
    """Non-standard groups in order of first appearance."""
    return list(dict.fromkeys(g for g in groups if g not in STANDARD_GROUPS))
