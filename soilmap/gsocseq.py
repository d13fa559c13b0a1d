"""Compare the 4 per 1000 target with FAO's modelled GSOCseq sequestration scenarios.

FAO's GSOCseq maps (RothC per 1 km pixel) give the SOC stock in 2020 (T0, t C ha-1,
0–30 cm), the stock after 20 years and the absolute sequestration rate (ASR, t C
ha-1 yr-1) under business as usual (BAU) and sustainable soil management (SSM1–3:
+5/+10/+20 % carbon inputs), and the rate relative to BAU (RSR).  The 4 ‰ target of
a pixel is ``rate × T0`` (t C ha-1 yr-1); the *share* of it a scenario attains is
``ASR / (rate × T0)``.

:func:`discover_gsocseq` finds the layers of a folder by file name (GloSIS COGs
``XX-GSOC[SEQ]-CORG<code>-<year>-0-30[-MEAN].tif`` and national submissions
``<ISO>_GSOCseq_<layer>_Map030.tif``), opens them lazily with explicit units and
applies FAO's own plausibility rules (FAO-SID/GSOCseq-scripts ``9_MapsCorrection.R``,
e.g. a T0 below 0 or above 800 t C ha-1 is not data).  :func:`compare` and
:func:`check_identities` stay lazy; :func:`run_comparison` computes the rasters, the
zonal sums, the identity checks and the cleaning counts in one dask pass.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as dsa
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import xarray as xr
from rasterio.errors import RasterioError

from soilmap.areas import cell_area_ha
from soilmap.cluster import Compute
from soilmap.errors import InputError, InputNotFoundError
from soilmap.grid import Grid, check_same_grid
from soilmap.io.raster import Compression, open_raster, read_layout, stage_geotiff
from soilmap.io.staging import OutputStage
from soilmap.io.vector import read_regions, write_csv, write_gpkg
from soilmap.landuse import uniform_fractions
from soilmap.manifest import describe_inputs, software_versions, write_json
from soilmap.meta import append_history, with_units
from soilmap.pipeline import FLOAT_NODATA
from soilmap.scenario import CO2_PER_C
from soilmap.styles import continuous_style, style_path_for, write_qml
from soilmap.units import CANONICAL
from soilmap.zonal import region_areas_ha, regions_on_grid, zonal_sums

__all__ = [
    "PLAUSIBLE",
    "SCENARIOS",
    "ComparisonResult",
    "GsocseqLayers",
    "PlausibleRange",
    "check_identities",
    "compare",
    "discover_gsocseq",
    "run_comparison",
]

log = logging.getLogger(__name__)

SCENARIOS = ("BAU", "SSM1", "SSM2", "SSM3")
STOCK_UNITS = CANONICAL["stock"]
RATE_UNITS = CANONICAL["stock_rate"]
#: Years between T0 and the final SOC in GSOCseq.
GSOCSEQ_YEARS = 20
#: Largest |ASR × 20 − (finalSOC − T0)| float32 storage explains (t C ha-1): the three
#: values are rounded apart, ≤ 20·ulp(4)/2 + 2·ulp(800)/2 ≈ 6.6e-5 for stocks ≤ 800.
IDENTITY_TOLERANCE = 1e-4


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
        Per opened layer: ``rule`` (text) and lazy 0-d dask counts ``removed_cells``
        (data outside :data:`PLAUSIBLE`) and ``kept_cells``.
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


def _open_clean(path: Path, key: str, chunks: tuple[int, int] | None) -> tuple[xr.DataArray, dict]:
    kind, _, sc = key.partition("_")
    rule, units = PLAUSIBLE[kind], _UNITS[kind]
    raw = open_raster(
        path, units=units, chunks=chunks, long_name=_LONG[kind].format(sc=sc), what=f"GSOCseq {key}"
    )
    keep = rule.keep(raw)
    clean = raw.where(keep)
    clean.attrs = dict(raw.attrs)
    text = rule.describe(units)
    counts = {
        "rule": text,
        "removed_cells": (raw.notnull() & ~keep).sum().data,
        "kept_cells": keep.sum().data,
    }
    return append_history(clean, f"GSOCseq plausibility rule: {text} (FAO)"), counts


def discover_gsocseq(folder: str | Path, *, chunks: tuple[int, int] | None = None) -> GsocseqLayers:
    """Find, open (lazily) and clean the GSOCseq layers of ``folder``.

    Parameters
    ----------
    folder : path-like
        Folder with GSOCseq GeoTIFFs under either naming convention (not recursive).
    chunks : tuple of int, optional
        Dask chunk ``(rows, cols)``; default: whole internal blocks of T0, ~4 Mcells.

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
    same_chunks = (t0.chunks[0][0], t0.chunks[1][0])
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


def _check_parameters(rate: float, period_years: float) -> None:
    if not (np.isfinite(rate) and 0 < rate < 1):
        raise InputError(
            f"rate must be a relative annual growth between 0 and 1 (0.004 for 4 per 1000), "
            f"not {rate!r}."
        )
    if not (np.isfinite(period_years) and period_years > 0):
        raise InputError(f"period_years must be positive (GSOCseq: 20), not {period_years!r}.")


def _relative_rate(layers: GsocseqLayers, sc: str, period_years: float) -> xr.DataArray | None:
    if sc in layers.rsr:
        out = layers.rsr[sc].copy()
        out.attrs["source"] = str(layers.files[f"RSR_{sc}"])
        return out
    if sc not in layers.final_soc or "BAU" not in layers.final_soc:
        return None
    # No plausibility rule on derived values: -1e-6 from two equal stocks rounded
    # apart is a real zero, not an error.
    step = f"RSR_{sc} = (finalSOC_{sc} - finalSOC_BAU) / {period_years:g}"
    diff = (layers.final_soc[sc] - layers.final_soc["BAU"]) / period_years
    out = with_units(diff, RATE_UNITS, step=step, long_name=_LONG["RSR"].format(sc=sc))
    out.attrs["source"] = f"derived: {step}"
    return out


def compare(
    layers: GsocseqLayers, *, rate: float = 0.004, period_years: float = GSOCSEQ_YEARS
) -> dict[str, xr.DataArray]:
    """Per-pixel 4 ‰ target and the share of it each modelled scenario attains, lazily.

    Parameters
    ----------
    layers : GsocseqLayers
        From :func:`discover_gsocseq`.
    rate : float
        Relative annual stock growth the target asks for (0.004 = 4 ‰ yr-1).
    period_years : float
        Years between T0 and the final SOC (20 in GSOCseq), to derive RSR.

    Returns
    -------
    dict of str to xarray.DataArray
        ``target_rate`` (``rate × T0``, t C ha-1 yr-1); per scenario X ``asr_X`` (as
        read, t C ha-1 yr-1) and ``share_X`` (``asr_X / target_rate``, 1, NaN where
        T0 = 0); per SSM scenario ``rsr_X`` (t C ha-1 yr-1) from the RSR file, else
        ``(finalSOC_X − finalSOC_BAU) / period_years`` when both stocks exist.
    """
    _check_parameters(rate, period_years)
    t0 = layers.t0
    per_mille = f"{rate * 1000:g} per 1000"
    target = with_units(
        t0 * np.float32(rate),
        RATE_UNITS,
        step=f"target_rate = {rate:g} x T0",
        long_name=f"{per_mille} target sequestration rate",
    )
    out = {"target_rate": target}
    # A zero stock has no 4 ‰ target: the share is undefined there, not infinite.
    denominator = target.where(t0 > 0)
    for sc in layers.scenarios:
        asr = layers.asr[sc]
        out[f"asr_{sc}"] = asr
        out[f"share_{sc}"] = with_units(
            asr / denominator,
            "1",
            step=f"share_{sc} = ASR_{sc} / ({rate:g} x T0)",
            long_name=f"share of the {per_mille} target attained by GSOCseq {sc}",
            history_from=asr,
        )
        rsr = _relative_rate(layers, sc, period_years) if sc != "BAU" else None
        if rsr is not None:
            out[f"rsr_{sc}"] = rsr
    return out


def check_identities(
    layers: GsocseqLayers, *, period_years: float = GSOCSEQ_YEARS
) -> dict[str, dict[str, Any]]:
    """Lazy checks of GSOCseq's own identities on the cleaned layers.

    ``ASR_X × period = finalSOC_X − T0`` for each scenario with both layers, and
    ``RSR_X × period = finalSOC_X − finalSOC_BAU`` for each RSR file with both final
    stocks; differences in float64 over the cells where every term has data.

    Returns
    -------
    dict
        By identity (``ASR_BAU``, ``RSR_SSM1`` ...): ``identity`` (text), ``units``
        (t C ha-1) and lazy 0-d dask arrays ``max_abs_error`` (0 without cells) and
        ``cells``.  Compute with ``dask.compute(result)``.
    """
    _check_parameters(0.004, period_years)

    def entry(text: str, lhs: xr.DataArray, rhs: xr.DataArray) -> dict[str, Any]:
        err = abs(lhs.astype("float64") * period_years - rhs)
        return {
            "identity": text.format(p=f"{period_years:g}"),
            "units": STOCK_UNITS,
            "max_abs_error": err.fillna(0.0).max().data,
            "cells": err.notnull().sum().data,
        }

    t0, final = layers.t0.astype("float64"), layers.final_soc
    out = {}
    for sc in layers.scenarios:
        if sc in final:
            text = f"ASR_{sc} x {{p}} = finalSOC_{sc} - T0"
            out[f"ASR_{sc}"] = entry(text, layers.asr[sc], final[sc].astype("float64") - t0)
    for sc, rsr in layers.rsr.items():
        if sc in final and "BAU" in final:
            text = f"RSR_{sc} x {{p}} = finalSOC_{sc} - finalSOC_BAU"
            out[f"RSR_{sc}"] = entry(text, rsr, final[sc].astype("float64") - final["BAU"])
    return out


# ------------------------------------------------------------------------------ run

TABLE = "gsocseq_comparison"
#: Units of the comparison table's numeric columns.
TABLE_UNITS = {
    "area_ha": "ha",
    "t0_stock_t": "t C",
    "target_t_per_yr": "t C yr-1",
    "modelled_t_per_yr": "t C yr-1",
    "share_of_target": "1",
    "modelled_relative_t_per_yr": "t C yr-1",
    "region_area_ha": "ha",
    "covered_share": "1",
    "emissions_t_co2e_per_yr": "t CO2e yr-1",
    "offset_share_target": "1",
    "offset_share_modelled": "1",
}


@dataclass
class ComparisonResult:
    """What :func:`run_comparison` wrote and measured.

    Attributes
    ----------
    table : geopandas.GeoDataFrame
        One row per region × scenario (units in :data:`TABLE_UNITS`).
    totals : pandas.DataFrame
        One row per scenario over every compared cell of the raster (the whole
        country for national GSOCseq maps).
    manifest : dict
        ``run.json``, with the identity checks and cleaning counts.
    """

    out_dir: Path
    outputs: list[Path]
    table: gpd.GeoDataFrame
    totals: pd.DataFrame
    manifest: dict[str, Any]


def _read_emissions(path: Path, id_field: str, field: str, ids: pd.Series) -> np.ndarray:
    """The ``field`` value (t CO2e yr-1) of each region, in the order of ``ids``."""
    fields = list(pyogrio.read_info(path)["fields"])
    if field not in fields:
        raise InputError(
            f"regions file {str(path)!r} has no field {field!r} (--emissions-field). "
            f"Its fields are: {', '.join(fields)}."
        )
    df = pyogrio.read_dataframe(path, columns=[id_field, field], read_geometry=False)
    if not pd.api.types.is_numeric_dtype(df[field]):
        raise InputError(
            f"emissions field {field!r} of {str(path)!r} holds {df[field].dtype} values; it "
            "must be a number (t CO2e yr-1). Convert the column to a numeric type."
        )
    by_id = pd.Series(df[field].to_numpy(dtype="float64"), index=df[id_field].astype(str))
    return by_id.reindex(ids.to_numpy()).to_numpy()


def _ratio(num: Any, den: Any) -> np.ndarray:
    """``num / den`` where ``den > 0``; NaN elsewhere (no data, no target, no emissions)."""
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    out = np.full(np.broadcast(num, den).shape, np.nan)
    return np.divide(num, den, out=out, where=den > 0)


def _rows(sums: pd.DataFrame, scenarios: tuple[str, ...], rate: float) -> pd.DataFrame:
    """One row per row of ``sums`` (``area_ha``, ``t0_sum``, ``asr_X_sum`` ...) × scenario."""
    parts = []
    for sc in scenarios:
        part = pd.DataFrame({"region_index": sums["region_index"].to_numpy(), "scenario": sc})
        part["area_ha"] = sums["area_ha"].to_numpy()
        part["t0_stock_t"] = sums["t0_sum"].to_numpy()
        part["target_t_per_yr"] = rate * part["t0_stock_t"]
        part["modelled_t_per_yr"] = sums[f"asr_{sc}_sum"].to_numpy()
        part["share_of_target"] = _ratio(part["modelled_t_per_yr"], part["target_t_per_yr"])
        rel = f"rsr_{sc}_sum"
        part["modelled_relative_t_per_yr"] = sums[rel].to_numpy() if rel in sums else np.nan
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values("region_index", kind="stable").reset_index(drop=True)


def _region_table(
    sums: pd.DataFrame,
    regions: gpd.GeoDataFrame,
    scenarios: tuple[str, ...],
    rate: float,
    emissions: np.ndarray | None,
) -> gpd.GeoDataFrame:
    table = _rows(sums, scenarios, rate)
    ri = table.pop("region_index").to_numpy()
    table.insert(0, "region_id", regions["region_id"].to_numpy()[ri])
    table.insert(1, "region_name", regions["region_name"].to_numpy()[ri])
    table["region_area_ha"] = region_areas_ha(regions)[ri]
    table["covered_share"] = _ratio(table["area_ha"], table["region_area_ha"])
    if emissions is not None:
        table["emissions_t_co2e_per_yr"] = emissions[ri]
        for col, src in (("target", "target_t_per_yr"), ("modelled", "modelled_t_per_yr")):
            table[f"offset_share_{col}"] = _ratio(table[src] * CO2_PER_C, emissions[ri])
    return gpd.GeoDataFrame(table, geometry=list(regions.geometry.to_numpy()[ri]), crs=regions.crs)


def _layer_meta(da: xr.DataArray) -> dict[str, Any]:
    keys = ("units", "long_name", "source")
    return {k: da.attrs.get(k) for k in keys} | {"history": da.attrs["history"].splitlines()}


def _identity_report(computed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, v in computed.items():
        cells = int(v["cells"])
        err = float(v["max_abs_error"]) if cells else None
        holds = err is None or err <= IDENTITY_TOLERANCE
        out[name] = v | {"cells": cells, "max_abs_error": err, "holds": holds}
        out[name]["tolerance"] = IDENTITY_TOLERANCE
        if not holds:
            log.warning("GSOCseq identity %s is off by up to %.3g t C/ha", v["identity"], err)
    return out


def run_comparison(
    folder: str | Path,
    regions_path: str | Path,
    *,
    id_field: str,
    name_field: str | None = None,
    regions_crs: str | None = None,
    out_dir: str | Path,
    overwrite: bool = False,
    rate: float = 0.004,
    emissions_field: str | None = None,
    period_years: float = GSOCSEQ_YEARS,
    chunks: tuple[int, int] | None = None,
    compress: Compression = "deflate",
    progress: bool | None = None,
) -> ComparisonResult:
    """Compare the 4 ‰ target with GSOCseq per pixel and per region; write the results.

    Writes atomically into ``out_dir``: COGs ``target_rate.tif`` (t C ha-1 yr-1) and
    ``share_<X>.tif`` (1) per scenario with ``.qml`` styles, the table
    ``gsocseq_comparison.gpkg`` (layer ``gsocseq_comparison``) with ``.csv``/``.csvt``,
    and ``run.json``.  Rasters, zonal sums, identity checks and cleaning counts are
    computed in one dask pass.

    Parameters
    ----------
    folder : path-like
        GSOCseq layers (see :func:`discover_gsocseq`).
    regions_path : path-like
        Region polygons (any vector format).
    id_field : str
        Field with a unique region id.
    name_field : str, optional
        Field with the region name (default: the id).
    regions_crs : str, optional
        CRS of a regions file that has none.
    out_dir : path-like
        Output folder.
    overwrite : bool
        Replace outputs of an earlier run.
    rate : float
        Relative annual stock growth the target asks for (0.004 = 4 per 1000).
    emissions_field : str, optional
        Numeric field of the regions file with annual emissions (t CO2e yr-1): adds
        ``offset_share_target`` and ``offset_share_modelled`` (CO2e = C × 44/12 over
        the emissions; NaN where they are missing or ≤ 0).
    period_years : float
        Years between T0 and the final SOC (20 in GSOCseq).
    chunks : tuple of int, optional
        Dask chunk ``(rows, cols)``.
    compress : {"deflate", "zstd", "lzw"}
        Raster codec.
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal).

    Returns
    -------
    ComparisonResult

    Notes
    -----
    Table rows and totals compare scenarios on the same land: cells where T0 and every
    scenario's ASR (and RSR) have data.  ``share_of_target`` is
    ``Σ ASR × ha / (rate × Σ T0 × ha)`` over those cells (exact cell coverage, true
    cell areas): the regional ratio, not a mean of pixel shares.
    """
    t_start = time.perf_counter()
    layers = discover_gsocseq(folder, chunks=chunks)
    maps = compare(layers, rate=rate, period_years=period_years)
    regions, report = read_regions(
        regions_path, id_field=id_field, name_field=name_field, crs=regions_crs
    )
    emissions = None
    if emissions_field:
        ids = regions["region_id"]
        emissions = _read_emissions(Path(regions_path), id_field, emissions_field, ids)
    regions = regions_on_grid(regions, layers.grid, what=f"{str(regions_path)!r}")
    scenarios, t0 = layers.scenarios, layers.t0

    area = cell_area_ha(layers.grid, chunks=(t0.chunks[0][0], t0.chunks[1][0]))
    area = area.chunk({"y": t0.chunks[0], "x": t0.chunks[1]}).assign_coords(y=t0.y, x=t0.x)
    summed = {"t0": t0, **{k: v for k, v in maps.items() if k.startswith(("asr_", "rsr_"))}}
    zonal = zonal_sums(uniform_fractions(t0), area, summed, regions, layers.grid)
    # Whole-raster totals over the same cells as the table rows.
    mask = functools.reduce(operator.and_, [v.notnull() for v in summed.values()])
    totals = {"area_ha": area.where(mask).sum().data}
    totals |= {f"{k}_sum": (v * area).where(mask).sum().data for k, v in summed.items()}

    rasters = {"target_rate": maps["target_rate"]}
    rasters |= {f"share_{sc}": maps[f"share_{sc}"] for sc in scenarios}
    names = [f"{stem}{ext}" for stem in rasters for ext in (".tif", ".qml")]
    names += [f"{TABLE}.gpkg", f"{TABLE}.csv", f"{TABLE}.csvt", "run.json"]
    tags = {"rate": rate, "period_years": period_years, "source": "FAO GSOCseq"}
    with OutputStage(out_dir, names, overwrite=overwrite) as stage:
        # Each stage_geotiff Delayed currently re-reads the blocks its map needs (see
        # test_every_input_block_is_read_once); everything else shares one read.
        writes = {
            stem: stage_geotiff(
                da,
                stage.path(f"{stem}.tif"),
                nodata=FLOAT_NODATA,
                compress=compress,
                tags={**tags, "layer": stem, "software": "soilmap"},
            )
            for stem, da in rasters.items()
        }
        lazy = {
            "files": writes,
            "vmax": dsa.nanmax(maps["target_rate"].data),
            "zonal": zonal,
            "totals": totals,
            "left_out": (t0.notnull() & ~mask).sum().data,
            "identities": check_identities(layers, period_years=period_years),
            "cleaning": dict(layers.cleaning),
        }
        show = sys.stderr.isatty() if progress is None else progress
        try:
            (done,) = Compute().compute(lazy, progress=show)
        except RasterioError as exc:
            # A block GDAL cannot decode shows up only when it is read.
            raise InputError(
                f"reading a GSOCseq layer of {str(folder)!r} failed ({exc}). The file is "
                "probably truncated or corrupted: download it again."
            ) from exc
        t_compute = time.perf_counter()

        vmax = float(done["vmax"])
        write_qml(
            style_path_for(done["files"]["target_rate"]),
            continuous_style(0.0, vmax if vmax > 0 else 1.0, ramp="YlGn", label_unit=RATE_UNITS),
        )
        for sc in scenarios:
            # 0–2 on a diverging ramp centred on 1: red falls short, blue exceeds.
            write_qml(
                style_path_for(done["files"][f"share_{sc}"]),
                continuous_style(0.0, 2.0, ramp="RdYlBu", label_unit="x target"),
            )
        table = _region_table(done["zonal"].frame(regions), regions, scenarios, rate, emissions)
        units = {k: v for k, v in TABLE_UNITS.items() if k in table.columns}
        meta = {"units": "; ".join(f"{k}={v}" for k, v in units.items()), "rate": str(rate)}
        write_gpkg(table, stage.path(f"{TABLE}.gpkg"), layer=TABLE, metadata=meta)
        write_csv(table, stage.path(f"{TABLE}.csv"))

        one_row = {"region_index": [0], **{k: [float(v)] for k, v in done["totals"].items()}}
        totals_df = _rows(pd.DataFrame(one_row), scenarios, rate).drop(columns="region_index")
        identities = _identity_report(done["identities"])
        cleaning = {
            k: {"rule": v["rule"], **{c: int(v[c]) for c in ("removed_cells", "kept_cells")}}
            for k, v in done["cleaning"].items()
        }
        manifest = {
            "soilmap_gsocseq_comparison": 1,
            "parameters": {
                "folder": str(folder),
                "regions": str(regions_path),
                "id_field": id_field,
                "name_field": name_field,
                "regions_crs": regions_crs,
                "rate": rate,
                "period_years": period_years,
                "emissions_field": emissions_field,
                "co2e_per_c": CO2_PER_C,
                "compress": compress,
            },
            "inputs": describe_inputs([*layers.input_paths(), Path(regions_path)]),
            "gsocseq": layers.describe(),
            "regions": {**report.__dict__, "count_on_grid": len(regions)},
            "cleaning": {"source": "FAO-SID/GSOCseq-scripts 9_MapsCorrection.R", **cleaning},
            "identities": identities,
            "compared_cells": {
                "rule": "T0 and every scenario's ASR (and RSR) have data",
                "t0_cells_left_out": int(done["left_out"]),
            },
            "totals": totals_df.astype(object).where(totals_df.notna(), None).to_dict("records"),
            "outputs": {
                **{f"{stem}.tif": _layer_meta(da) for stem, da in rasters.items()},
                TABLE: {"columns_units": units},
            },
            "software": software_versions(),
            "timings_s": {"open_plan_compute": round(t_compute - t_start, 3)},
        }
        manifest["timings_s"]["total"] = round(time.perf_counter() - t_start, 3)
        write_json(manifest, stage.path("run.json"))
        outputs = stage.commit()
    log.info("wrote %d files to %s", len(outputs), out_dir)
    return ComparisonResult(
        out_dir=Path(out_dir),
        outputs=outputs,
        table=table,
        totals=totals_df,
        manifest=manifest,
    )
