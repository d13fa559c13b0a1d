"""Find, open and clean the GSOCseq layers of a folder (see :mod:`soilmap.gsocseq`).

File names follow either convention: GloSIS COGs
``XX-GSOC[SEQ]-CORG<code>-<year>-0-30[-MEAN].tif`` or national submissions
``<ISO>_GSOCseq_<layer>_Map030.tif``.  Layers open lazily with explicit units, and
values breaking FAO's plausibility rules (:data:`PLAUSIBLE`, from
FAO-SID/GSOCseq-scripts ``9_MapsCorrection.R``) become NaN, with lazy counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from soilmap.errors import InputError, InputNotFoundError
from soilmap.grid import Grid, check_same_grid, dask_chunks
from soilmap.io.raster import ChunkSpec, open_raster, read_layout
from soilmap.meta import append_history
from soilmap.units import CANONICAL

SCENARIOS = ("BAU", "SSM1", "SSM2", "SSM3")
STOCK_UNITS = CANONICAL["stock"]
RATE_UNITS = CANONICAL["stock_rate"]


@dataclass(frozen=True)
class PlausibleRange:
    """Values a GSOCseq layer can hold; anything else is not data."""

    low: float
    high: float
    low_open: bool = False

    def keep(self, da: xr.DataArray) -> xr.DataArray:
        """Lazy mask: True where ``da`` is plausible (False where NaN)."""
        return (da > self.low if self.low_open else da >= self.low) & (da <= self.high)

    def describe(self, units: str) -> str:
        return f"{self.low:g} {'<' if self.low_open else '<='} value <= {self.high:g} {units}"


#: FAO's MapsCorrection rules per layer kind (FAO-SID/GSOCseq-scripts, 9_MapsCorrection.R).
PLAUSIBLE: dict[str, PlausibleRange] = {
    "T0": PlausibleRange(0.0, 800.0),
    "finalSOC": PlausibleRange(0.0, 800.0),
    "ASR": PlausibleRange(-4.0, 4.0, low_open=True),
    "RSR": PlausibleRange(0.0, 4.0),
}
_UNITS = {"T0": STOCK_UNITS, "finalSOC": STOCK_UNITS, "ASR": RATE_UNITS, "RSR": RATE_UNITS}
_LONG = {
    "T0": "SOC stock 2020 (GSOCseq T0, 0-30 cm)",
    "finalSOC": "SOC stock after 20 years (GSOCseq {sc})",
    "ASR": "absolute sequestration rate (GSOCseq {sc})",
    "RSR": "sequestration rate relative to BAU (GSOCseq {sc})",
}

_SC = r"(?P<sc>BAU|SSM[123])"
_GLOSIS = re.compile(
    r"^[A-Z]{2,3}-GSOC(?:SEQ)?-CORG(?P<code>[A-Z0-9]+)-\d{4}-0-30(?:-(?P<stat>[A-Z]+))?\.tiff?$",
    re.IGNORECASE,
)
_GLOSIS_CODE = re.compile(rf"^(?P<kind>T0|SOC|ASR|RSR|AD|RD){_SC}?$", re.IGNORECASE)
_GLOSIS_KIND = {"T0": "T0", "SOC": "finalSOC", "ASR": "ASR", "RSR": "RSR", "AD": "AbsDiff"}
_NATIONAL = re.compile(
    r"^.+?_GSOCseq_(?P<body>\w+?)_(?P<map>Map|UncertaintyMap)030\.tiff?$", re.IGNORECASE
)
_NATIONAL_BODY = re.compile(
    rf"^(?P<kind>T0|finalSOC|ASR|RSR|AbsDiff|RelDiff)(?:_{_SC})?$", re.IGNORECASE
)
_CANON = {k.lower(): k for k in ("T0", "finalSOC", "ASR", "RSR", "AbsDiff", "RelDiff")}
_EXPECTED = (
    "XX-GSOC-CORGT0-2021-0-30.tif and XX-GSOC-CORGASR{BAU,SSM1..3}-2021-0-30.tif (GloSIS), "
    "or ISO_GSOCseq_T0_Map030.tif and ISO_GSOCseq_ASR_{BAU,SSM1..3}_Map030.tif (national)"
)


def _layer_key(name: str) -> tuple[str, str] | None:
    """``(key, convention)`` of a GSOCseq file name, e.g. ``("ASR_BAU", "glosis")``."""
    if m := _GLOSIS.match(name):
        code, convention = m["code"].upper(), "glosis"
        uncertain = (m["stat"] or "MEAN").upper() != "MEAN"
        kind = _GLOSIS_CODE.match(code)
        # Uncertainty codes end in U (SSMU, RSRSSM1U); ASRBAU, SOCBAU matched above.
        if kind is None and code.endswith("U"):
            if code[:-1] in ("BAU", "SSM"):
                return f"uncertainty_{code[:-1]}", convention
            uncertain, kind = True, _GLOSIS_CODE.match(code[:-1])
        if kind is None:
            return None
        key = _GLOSIS_KIND.get(kind["kind"].upper(), "RelDiff")
    elif m := _NATIONAL.match(name):
        convention, uncertain = "national", m["map"].lower() != "map"
        kind = _NATIONAL_BODY.match(m["body"])
        if kind is None:
            body = m["body"].upper()
            return (
                (f"uncertainty_{body}", convention)
                if uncertain and body in ("BAU", "SSM")
                else None
            )
        key = _CANON[kind["kind"].lower()]
    else:
        return None
    key += f"_{kind['sc'].upper()}" if kind["sc"] else ""
    return (f"uncertainty_{key}" if uncertain else key), convention


@dataclass(frozen=True)
class GsocseqLayers:
    """The GSOCseq layers of one folder, opened lazily on T0's grid and cleaned.

    Attributes
    ----------
    folder : pathlib.Path
    grid : Grid
        T0's grid, shared by every layer.
    files : mapping of str to pathlib.Path
        Every recognised layer by key (``T0``, ``ASR_BAU``, ``finalSOC_SSM1``,
        ``RSR_SSM2``, ``AbsDiff_BAU``, ``uncertainty_SSM`` ...).
    t0 : xarray.DataArray
        SOC stock 2020, t C ha-1.
    final_soc, asr, rsr : mapping of str to xarray.DataArray
        By scenario: final SOC (t C ha-1), ASR and RSR (t C ha-1 yr-1).
    cleaning : mapping of str to dict
        Per opened layer: ``rule`` (text), lazy 0-d dask counts ``removed_cells``
        (data outside :data:`PLAUSIBLE`) and ``kept_cells``, and ``masks``: the same
        counts as lazy boolean layers (``{"removed_cells": ..., "kept_cells": ...}``).
    conventions : tuple of str
        File-name conventions found (``"glosis"``, ``"national"``).
    ignored : tuple of str
        Raster files of the folder that are not GSOCseq layers.
    """

    folder: Path
    grid: Grid
    files: Mapping[str, Path]
    t0: xr.DataArray
    final_soc: Mapping[str, xr.DataArray]
    asr: Mapping[str, xr.DataArray]
    rsr: Mapping[str, xr.DataArray]
    cleaning: Mapping[str, dict[str, Any]]
    conventions: tuple[str, ...]
    ignored: tuple[str, ...]

    @property
    def scenarios(self) -> tuple[str, ...]:
        """Scenarios with an ASR layer, in the order BAU, SSM1, SSM2, SSM3."""
        return tuple(s for s in SCENARIOS if s in self.asr)

    def input_paths(self) -> list[Path]:
        """Files that are read: T0, final SOC, ASR, RSR."""
        return [p for k, p in self.files.items() if k.split("_")[0] in _UNITS]

    def describe(self) -> dict[str, Any]:
        """What was found, JSON-ready (no pixel is read)."""
        return {
            "folder": str(self.folder),
            "conventions": list(self.conventions),
            "scenarios": list(self.scenarios),
            "layers": {k: p.name for k, p in self.files.items()},
            "ignored": list(self.ignored),
            "grid": self.grid.describe(),
        }


def _open_clean(path: Path, key: str, chunks: ChunkSpec) -> tuple[xr.DataArray, dict]:
    kind, _, sc = key.partition("_")
    rule, units = PLAUSIBLE[kind], _UNITS[kind]
    raw = open_raster(
        path, units=units, chunks=chunks, long_name=_LONG[kind].format(sc=sc), what=f"GSOCseq {key}"
    )
    keep = rule.keep(raw)
    clean = raw.where(keep)
    clean.attrs = dict(raw.attrs)
    text = rule.describe(units)
    removed = raw.notnull() & ~keep
    counts = {
        "rule": text,
        "removed_cells": removed.sum().data,
        "kept_cells": keep.sum().data,
        # The per-cell forms, for counts computed window by window with the outputs.
        "masks": {"removed_cells": removed, "kept_cells": keep},
    }
    return append_history(clean, f"GSOCseq plausibility rule: {text} (FAO)"), counts


def discover_gsocseq(folder: str | Path, *, chunks: ChunkSpec = None) -> GsocseqLayers:
    """Find, open (lazily) and clean the GSOCseq layers of ``folder``.

    Parameters
    ----------
    folder : path-like
        Folder with GSOCseq GeoTIFFs under either naming convention (not recursive).
    chunks : tuple of int or int, optional
        Dask chunk ``(rows, cols)``, or a number of cells per chunk rounded to whole
        internal blocks of T0; default: whole internal blocks of T0, ~4 Mcells.

    Returns
    -------
    GsocseqLayers
        Stocks in t C ha-1, rates in t C ha-1 yr-1 (the files carry no units: GSOCseq
        defines them), NaN where a file declares no data (−1 in GloSIS COGs, −3.4e38
        in national files) or a value breaks FAO's plausibility rule (:data:`PLAUSIBLE`).

    Raises
    ------
    soilmap.errors.InputNotFoundError
        The folder does not exist, or holds no T0 or no ASR layer.
    soilmap.errors.InputError
        Two files claim the same layer.
    soilmap.errors.GridMismatchError
        A layer is not on T0's grid.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputNotFoundError(f"GSOCseq folder {str(root)!r} does not exist.")
    files: dict[str, Path] = {}
    conventions, ignored = set(), []
    for path in sorted(p for p in root.iterdir() if p.suffix.lower() in (".tif", ".tiff")):
        found = _layer_key(path.name)
        if found is None:
            ignored.append(path.name)
            continue
        key, convention = found
        if key in files:
            raise InputError(
                f"{root}: both {files[key].name} and {path.name} are GSOCseq {key}. "
                "Keep one of them in the folder."
            )
        files[key] = path
        conventions.add(convention)
    has_asr = any(f"ASR_{s}" in files for s in SCENARIOS)
    missing = [w for w, ok in (("T0", "T0" in files), ("ASR", has_asr)) if not ok]
    if missing:
        subdirs = sorted(
            d.name
            for d in root.iterdir()
            if d.is_dir() and any(_layer_key(p.name) for p in d.glob("*.tif*"))
        )
        hint = f" Subfolders with GSOCseq layers: {', '.join(subdirs)}." if subdirs else ""
        raise InputNotFoundError(
            f"GSOCseq folder {str(root)!r} has no {' and no '.join(missing)} layer (found: "
            f"{', '.join(files) or 'none'}). Expected files named like {_EXPECTED}.{hint}"
        )
    t0, t0_counts = _open_clean(files["T0"], "T0", chunks)
    grid = Grid.from_dataarray(t0, what=str(files["T0"]))
    for key, path in files.items():
        check_same_grid(
            grid,
            read_layout(path, what=f"GSOCseq {key}").grid,
            what=f"GSOCseq {key} {path.name!r}",
            reference_name=f"T0 {files['T0'].name!r}",
        )
    t0_chunks = dask_chunks(t0)
    same_chunks = (t0_chunks[0][0], t0_chunks[1][0])
    cleaning = {"T0": t0_counts}
    opened: dict[str, dict[str, xr.DataArray]] = {"finalSOC": {}, "ASR": {}, "RSR": {}}
    for key, path in files.items():
        kind, _, sc = key.partition("_")
        if kind in opened:
            da, cleaning[key] = _open_clean(path, key, same_chunks)
            # Matching grids can still give coordinates that differ in the last bits,
            # and xarray arithmetic would inner-join them into a smaller grid.
            opened[kind][sc] = da.assign_coords(y=t0["y"], x=t0["x"])
    return GsocseqLayers(
        folder=root,
        grid=grid,
        files=files,
        t0=t0,
        final_soc=opened["finalSOC"],
        asr=opened["ASR"],
        rsr=opened["RSR"],
        cleaning=cleaning,
        conventions=tuple(sorted(conventions)),
        ignored=tuple(ignored),
    )
