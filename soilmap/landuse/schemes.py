"""Class-table files: parse CSV and YAML tables, find and load the presets.

:func:`load_class_table` (the
:class:`~soilmap.landuse.table.ClassTable` builder) takes a preset name or alias
(the CSV files of ``soilmap/landuse/presets/``, parsed once per process) or the path of
a user's CSV or YAML file; :func:`list_schemes` names the presets.

CSV format
----------
Leading ``# key: value`` comment lines carry metadata (``name``, ``title``,
``product``, ``source`` = citation/URL of the official legend, ``aliases``,
``nodata`` = codes meaning "no data", ``groups`` = custom groups declared although
they are close to a standard name, see :mod:`soilmap.landuse.groups`); other ``#``
lines are free comments, except ``# exception CODES: reason`` lines, which document
the classes whose group departs from their IPCC land category (see
:mod:`soilmap.landuse.ipcc`).  The first other line is the header
``code,group,label,color`` (``label``, ``color`` and ``ipcc`` optional, in any
order; ``ipcc`` = the class's IPCC 2006 land category); then one row per code::

    # name: my_table
    # nodata: 0, 255
    code,group,label,color
    10,cropland,Rainfed cropland,#ffff64
    20,forest,"Tree cover, closed",#006400
    30,shrubland,Shrubs,

A row whose group is ``nodata`` declares a no-data code with its official label
(so a preset can mirror the complete published legend).  Quote labels holding
commas.  Colours are ``#rrggbb``; an empty colour takes the colour of its group.

YAML format
-----------
A mapping with ``classes:`` (a list of ``{code, group, label, color}``) and
optional ``nodata:`` (codes, or ``{code, label}`` mappings), ``name:``,
``title:``, ``product:``, ``source:``.  Quote colours (``color: "#006400"``):
an unquoted ``#`` starts a YAML comment.  YAML needs PyYAML.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from soilmap.errors import ClassTableError, UnknownSchemeError
from soilmap.landuse.table import NODATA_GROUP, ClassTable, _as_code, _validate_columns

__all__ = ["list_schemes", "load_class_table"]

_META_RE = re.compile(r"#\s*([A-Za-z_]+)\s*:\s*(.*)$")
_META_KEYS = ("name", "title", "product", "source", "reference", "aliases", "nodata", "groups")
_TABLE_SUFFIXES = (".csv", ".yaml", ".yml")
_EXCEPTION_RE = re.compile(r"#\s*exception\s+([0-9][0-9,;\s]*?)\s*:\s*(.+)$", re.IGNORECASE)


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #
def list_schemes() -> list[str]:
    """Names of the preset class tables shipped in ``soilmap/landuse/presets/``."""
    return sorted(_preset_files())


def load_class_table(
    name_or_path: str | os.PathLike[str], *, declared_groups: Sequence[str] = ()
) -> ClassTable:
    """Load a preset by name (or alias) or a table file.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A preset name, case-insensitive, ``-`` or ``_`` alike (``"esa_cci_lc"``,
        ``"CCI"``, ``"worldcover"`` ...; see :func:`list_schemes`), or the path
        of a ``.csv``, ``.yaml`` or ``.yml`` table file.
    declared_groups : sequence of str, optional
        Custom groups declared on purpose although close to a standard name (the run
        config's ``[groups] custom``), besides those of the table's ``# groups:``
        header (see :mod:`soilmap.landuse.groups`).

    Returns
    -------
    ClassTable

    Raises
    ------
    UnknownSchemeError
        If the name is no preset and no table file exists at the path.
    ClassTableError
        If the file is malformed (the message names the file, the problem and
        the fix).
    """
    if isinstance(name_or_path, ClassTable):  # already loaded: convenient for configs
        return name_or_path
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = (
        not isinstance(name_or_path, str)
        or path.suffix.lower() in _TABLE_SUFFIXES
        or os.sep in text
        or (os.altsep is not None and os.altsep in text)
    )
    if not looks_like_path:
        preset = _alias_index().get(_norm_name(text))
        if preset is not None:
            return _load_preset(preset)
        raise UnknownSchemeError(
            f"land-cover scheme {text!r} is not a preset. Available presets: "
            f"{', '.join(list_schemes())} (aliases: {', '.join(_aliases_shown())}); or give the "
            "path of a .csv/.yaml table file with columns code,group,label,color."
        )
    if not path.is_file():
        raise UnknownSchemeError(
            f"class table file {str(path)!r} does not exist. Give an existing .csv/.yaml table "
            f"file or one of the presets: {', '.join(list_schemes())}."
        )
    suffix = path.suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise UnknownSchemeError(
            f"class table file {str(path)!r} has suffix {suffix!r}; soilmap reads .csv, .yaml "
            "and .yml table files. Rename it (CSV with header code,group,label,color)."
        )
    try:
        content = path.read_text(encoding="utf-8-sig")  # -sig: tolerate Excel's BOM
    except UnicodeDecodeError as exc:
        raise ClassTableError(
            f"class table file {str(path)!r} is not UTF-8 text ({exc}). Save it as UTF-8 CSV."
        ) from None
    declared = tuple(declared_groups)
    if suffix == ".csv":
        return _parse_csv(content, source=str(path), default_name=path.stem, declared=declared)
    return _parse_yaml(content, source=str(path), default_name=path.stem, declared=declared)


@lru_cache(maxsize=1)
def _preset_files() -> dict[str, Any]:
    folder = resources.files("soilmap.landuse") / "presets"
    return {
        entry.name[:-4]: entry
        for entry in folder.iterdir()
        if entry.name.endswith(".csv") and entry.is_file()
    }


@cache
def _load_preset(name: str) -> ClassTable:
    # Presets are immutable, so one parsed copy per process is enough.
    text = _preset_files()[name].read_text(encoding="utf-8-sig")
    table = _parse_csv(text, source=f"preset:{name}", default_name=name)
    if table.name != name:
        raise ClassTableError(  # a packaging bug, not a user error
            f"preset file {name}.csv declares name {table.name!r}; they must match."
        )
    return table


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name in _preset_files():
        for key in (name, *_load_preset(name).aliases):
            index.setdefault(_norm_name(key), name)
    return index


def _aliases_shown() -> list[str]:
    return sorted(k for k, v in _alias_index().items() if k != v)


def _norm_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


# --------------------------------------------------------------------------- #
# Parsers
# --------------------------------------------------------------------------- #
def _parse_csv(
    text: str, *, source: str, default_name: str, declared: tuple[str, ...] = ()
) -> ClassTable:
    where = f"class table {source!r}"
    meta: dict[str, list[str]] = {}
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    exceptions: list[tuple[str, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            exception = _EXCEPTION_RE.match(stripped)
            if exception:
                for code in re.split(r"[,;\s]+", exception.group(1).strip()):
                    exceptions.append((code, exception.group(2).strip()))
                continue
            match = _META_RE.match(stripped)
            if header is None and match and match.group(1).lower() in _META_KEYS:
                meta.setdefault(match.group(1).lower(), []).append(match.group(2).strip())
            continue
        record = next(csv.reader([line], skipinitialspace=True))
        if header is None:
            header = [h.strip().lower() for h in record]
            continue
        rows.append((lineno, record))
    if header is None:
        raise ClassTableError(
            f"{where} has no header line. Start it with the line 'code,group,label,color' "
            "(label and color optional) and one row per code."
        )
    header = ["color" if h == "colour" else h for h in header]
    missing = [c for c in ("code", "group") if c not in header]
    if missing:
        raise ClassTableError(
            f"{where} lacks column(s) {missing} (header read: {header}). The first non-comment "
            "line must be the header 'code,group,label,color' (label and color optional)."
        )
    dupes = sorted({h for h in header if header.count(h) > 1 and h})
    if dupes:
        raise ClassTableError(f"{where} repeats column(s) {dupes} in its header; keep one each.")
    col = {h: i for i, h in enumerate(header)}
    entries = []
    for lineno, record in rows:
        if len(record) > len(header):
            raise ClassTableError(
                f"{where} line {lineno} has {len(record)} fields but the header has "
                f"{len(header)}: {record}. Quote labels that contain commas "
                '(e.g. "Cropland, rainfed").'
            )
        record = record + [""] * (len(header) - len(record))

        def get(column: str, record: list[str] = record) -> str:
            return record[col[column]].strip() if column in col else ""

        entries.append(
            (f"line {lineno}", get("code"), get("group"), get("label"), get("color"), get("ipcc"))
        )
    return _build(
        entries,
        meta={k: "; ".join(v) for k, v in meta.items()},
        source=source,
        default_name=default_name,
        exceptions=[(_as_code(c, f"{where} '# exception' line"), r) for c, r in exceptions],
        has_ipcc="ipcc" in col,
        declared=declared,
    )


def _parse_yaml(
    text: str, *, source: str, default_name: str, declared: tuple[str, ...] = ()
) -> ClassTable:
    where = f"class table {source!r}"
    try:
        import yaml
    except ImportError:  # pragma: no cover - depends on the environment
        raise ClassTableError(
            f"{where} is YAML but PyYAML is not installed. Install it (pip install pyyaml) "
            "or write the table as CSV with header code,group,label,color."
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClassTableError(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or "classes" not in data:
        raise ClassTableError(
            f"{where} must be a YAML mapping with a 'classes:' list of "
            "{code, group, label, color} entries (and optional 'nodata:', 'name:')."
        )
    classes = data["classes"]
    if not isinstance(classes, list):
        raise ClassTableError(
            f"{where}: 'classes:' must be a list of {{code, group, ...}} "
            f"mappings, not {type(classes).__name__}."
        )
    entries = []
    for i, item in enumerate(classes, start=1):
        if not isinstance(item, Mapping):
            raise ClassTableError(
                f"{where}: classes entry {i} must be a mapping with keys "
                f"code and group (label, color optional), not {item!r}."
            )
        item = {str(k).lower(): v for k, v in item.items()}
        missing = [k for k in ("code", "group") if k not in item]
        if missing:
            raise ClassTableError(
                f"{where}: classes entry {i} lacks {missing}: {dict(item)}. "
                "Each entry needs code and group."
            )
        color = item.get("color", item.get("colour"))
        entries.append(
            (
                f"classes entry {i}",
                item["code"],
                _text(item["group"]),
                _text(item.get("label")),
                _text(color),
                _text(item.get("ipcc")),
            )
        )
    nodata = data.get("nodata") or []
    if not isinstance(nodata, list):
        nodata = [nodata]
    for i, item in enumerate(nodata, start=1):
        if isinstance(item, Mapping):
            item = {str(k).lower(): v for k, v in item.items()}
            if "code" not in item:
                raise ClassTableError(f"{where}: nodata entry {i} lacks 'code': {dict(item)}.")
            entries.append(
                (f"nodata entry {i}", item["code"], NODATA_GROUP, _text(item.get("label")), "", "")
            )
        else:
            entries.append((f"nodata entry {i}", item, NODATA_GROUP, "", "", ""))
    meta = {k: _text(data.get(k)) for k in ("name", "title", "product", "source", "reference")}
    aliases = data.get("aliases") or []
    meta["aliases"] = ", ".join(map(str, aliases if isinstance(aliases, list) else [aliases]))
    has_ipcc = any(isinstance(i, Mapping) and "ipcc" in i for i in classes)
    return _build(
        entries,
        meta=meta,
        source=source,
        default_name=default_name,
        has_ipcc=has_ipcc,
        declared=declared,
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _build(
    entries: Sequence[tuple[str, Any, str, str, str, str]],
    *,
    meta: Mapping[str, str],
    source: str,
    default_name: str,
    exceptions: Sequence[tuple[int, str]] = (),
    has_ipcc: bool = False,
    declared: tuple[str, ...] = (),
) -> ClassTable:
    """Turn parsed rows (where, code, group, label, color, ipcc) + metadata into a table."""
    where = f"class table {source!r}"
    codes, groups, labels, colors, rows_at, ipcc = [], [], [], [], [], []
    nodata, nodata_labels, nodata_at = [], [], []
    for at, code, group, label, color, category in entries:
        code = _as_code(code, f"{where} {at}")
        if group == NODATA_GROUP:
            nodata.append(code)
            nodata_labels.append(label)
            nodata_at.append(at)
        else:
            codes.append(code)
            groups.append(group)
            labels.append(label)
            colors.append(color)
            rows_at.append(at)
            ipcc.append(category)
    for value in re.split(r"[,;\s]+", meta.get("nodata", "")):
        if value:
            nodata.append(_as_code(value, f"{where} '# nodata:' header"))
            nodata_labels.append("")
            nodata_at.append("'# nodata:' header")
    _validate_columns(
        where,
        codes,
        groups,
        labels,
        colors,
        nodata,
        nodata_labels,
        rows_at=rows_at,
        nodata_at=nodata_at,
    )
    aliases = tuple(a for a in (s.strip() for s in meta.get("aliases", "").split(",")) if a)
    return ClassTable(
        name=meta.get("name") or default_name,
        source=source,
        codes=tuple(codes),
        groups=tuple(groups),
        labels=tuple(labels),
        colors=tuple(colors),
        nodata=tuple(nodata),
        title=meta.get("title", ""),
        product=meta.get("product", ""),
        reference="; ".join(v for v in (meta.get("source"), meta.get("reference")) if v),
        nodata_labels=tuple(nodata_labels),
        aliases=aliases,
        # "# groups: croplnd, ...": custom groups declared close to a standard name
        declared_groups=(
            *(g for g in re.split(r"[,;\s]+", meta.get("groups", "")) if g),
            *declared,
        ),
        ipcc=tuple(ipcc) if has_ipcc else (),
        ipcc_exceptions=tuple(exceptions),
    )
