"""Run the GSOCseq comparison: rasters, regional table, totals, ``run.json``, in one pass.

See :func:`run_comparison` and :mod:`soilmap.gsocseq`.
"""

from __future__ import annotations

import functools
import logging
import operator
import sys
import time
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
from soilmap.errors import InputError
from soilmap.gsocseq.discover import RATE_UNITS, discover_gsocseq
from soilmap.gsocseq.pixels import (
    GSOCSEQ_YEARS,
    IDENTITY_TOLERANCE,
    check_identities,
    compare,
)
from soilmap.io.raster import Compression, stage_geotiff
from soilmap.io.staging import OutputStage
from soilmap.io.vector import DuplicatePolicy, read_regions, write_csv, write_gpkg
from soilmap.landuse import uniform_fractions
from soilmap.manifest import describe_inputs, software_versions, write_json
from soilmap.pipeline import FLOAT_NODATA
from soilmap.scenario import CO2_PER_C
from soilmap.styles import continuous_style, style_path_for, write_qml
from soilmap.zonal import region_areas_ha, regions_on_grid, zonal_sums

# The package's logger, as before it was split into modules.
log = logging.getLogger("soilmap.gsocseq")

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
    duplicate_ids: DuplicatePolicy = "error",
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
        regions_path,
        id_field=id_field,
        name_field=name_field,
        crs=regions_crs,
        duplicate_ids=duplicate_ids,
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
        # Maps, zonal sums, totals, identities and counts share one read of every block
        # (see test_every_input_block_is_read_once).
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
