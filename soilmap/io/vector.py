"""Vector input (regions) and table output (GeoPackage, CSV with .csvt, GeoParquet).

Every writer writes exactly the path it is given (callers stage files for atomic
moves, see :mod:`soilmap.io.staging`) and keeps units and metadata inside the file
where the format allows: GeoPackage layer metadata, column descriptions
(``gpkg_data_columns``) and a default QGIS style (``layer_styles``); Parquet schema
and field metadata.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from soilmap.errors import CRSError, InputError, InputNotFoundError

__all__ = [
    "RegionsReport",
    "graduated_style",
    "read_regions",
    "write_csv",
    "write_gpkg",
    "write_parquet",
    "write_table",
]

log = logging.getLogger(__name__)

InvalidPolicy = Literal["repair", "error"]
DuplicatePolicy = Literal["error", "suffix", "dissolve"]


@dataclass(frozen=True)
class RegionsReport:
    """What :func:`read_regions` did to the regions, for ``run.json``."""

    path: str
    layer: str | None
    count: int
    source_crs: str
    crs_assumed: bool
    repaired: tuple[str, ...]
    empty: tuple[str, ...]
    #: Ids of regions without a name (their name is their id).
    unnamed: tuple[str, ...] = ()
    #: Ids that occurred more than once in the file (see ``duplicate_ids``).
    duplicates: tuple[str, ...] = ()
    #: Why each repaired geometry was invalid (GEOS's reason), in ``repaired`` order.
    invalid_reasons: tuple[str, ...] = ()


def _crs_label(crs) -> str:
    epsg = crs.to_epsg() if crs is not None else None
    return f"EPSG:{epsg}" if epsg else (crs.to_wkt() if crs is not None else "none")


def read_regions(
    path: str | os.PathLike,
    *,
    id_field: str | None,
    name_field: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    invalid: InvalidPolicy = "repair",
    duplicate_ids: DuplicatePolicy = "error",
) -> tuple[gpd.GeoDataFrame, RegionsReport]:
    """Read region polygons for zonal statistics.

    Parameters
    ----------
    path : path-like
        Any vector file pyogrio reads (GeoPackage, shapefile, GeoJSON ...).
    id_field : str or None
        Field holding a unique region identifier; ``None`` numbers the regions by
        their feature id (FID) in the file.
    name_field : str, optional
        Field holding a region name (default: the id; empty names also fall back to it).
    layer : str, optional
        Layer to read in a multi-layer file (default: the first).
    crs : str, optional
        CRS to assume when the file has none (e.g. a shapefile without ``.prj``);
        an error is raised if the file has none and this is not given.
    invalid : {"repair", "error"}
        What to do with invalid geometries: repair them with ``shapely.make_valid``
        (reported in the returned report) or raise.
    duplicate_ids : {"error", "suffix", "dissolve"}
        What to do when ``id_field`` repeats: raise, make ids unique by appending
        ``#2``, ``#3`` ... in file order, or merge the features sharing an id into one
        region (its name is the first non-empty one).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``region_id`` (str), ``region_name`` (str), ``geometry``.
    RegionsReport
        Source CRS, repaired, empty, unnamed and duplicate regions.

    Raises
    ------
    soilmap.errors.InputError
        Missing file or field, duplicate ids with ``duplicate_ids="error"``, no
        polygons, invalid geometries with ``invalid="error"``.
    soilmap.errors.CRSError
        The file has no CRS and ``crs`` is not given.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"regions file {str(p)!r} does not exist. Check the path.")
    try:
        gdf = gpd.read_file(p, layer=layer, engine="pyogrio", fid_as_index=id_field is None)
    except (DataSourceError, DataLayerError, pyogrio.errors.FieldTypeError) as exc:
        raise InputError(f"regions file {str(p)!r} cannot be read ({exc}).") from exc
    fields = [c for c in gdf.columns if c != gdf.geometry.name]
    for label, field in (("--region-id", id_field), ("--region-name", name_field)):
        if field is not None and field not in gdf.columns:
            raise InputError(
                f"regions file {str(p)!r} has no field {field!r} ({label}). "
                f"Its fields are: {', '.join(fields)}."
            )
    if len(gdf) == 0:
        raise InputError(f"regions file {str(p)!r} holds no features.")
    assumed = False
    if gdf.crs is None:
        if crs is None:
            raise CRSError(
                f"regions file {str(p)!r} has no coordinate reference system (e.g. a shapefile "
                "without its .prj). Pass the CRS it is in (--regions-crs EPSG:4326, or "
                "crs = '...' under [regions] in the config file)."
            )
        gdf = gdf.set_crs(crs)
        assumed = True
    kinds = set(gdf.geometry.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(
            f"regions file {str(p)!r} holds {', '.join(sorted(kinds))} geometries; zonal "
            "statistics need polygons."
        )
    ids = (
        pd.Series(gdf.index.astype(str), index=gdf.index)
        if id_field is None
        else gdf[id_field].astype(str)
    )
    raw_names = gdf[name_field] if name_field else pd.Series(np.nan, index=gdf.index)
    named = raw_names.notna() & (raw_names.astype(str).str.strip() != "")
    names = raw_names.astype(str).where(named, ids)

    geoms = gdf.geometry.values
    empty_mask = np.asarray(gdf.geometry.isna() | gdf.geometry.is_empty)
    bad = ~empty_mask & ~np.asarray(shapely.is_valid(geoms))
    repaired = tuple(ids[bad])
    reasons = tuple(shapely.is_valid_reason(geoms[bad])) if bad.any() else ()
    if bad.any():
        if invalid == "error":
            raise InputError(
                f"regions file {str(p)!r}: invalid geometries in {', '.join(repaired[:10])} "
                f"({reasons[0]}). Repair them (QGIS 'Fix geometries') or use invalid='repair'."
            )
        fixed = shapely.make_valid(geoms[bad])
        # make_valid may return collections with lines or points: keep the area part.
        geoms = geoms.copy()
        geoms[bad] = [_polygonal(g) for g in fixed]
        log.warning(
            "repaired %d invalid region geometries: %s",
            bad.sum(),
            "; ".join(f"{i} ({r})" for i, r in zip(repaired, reasons, strict=True)),
        )

    dupes = tuple(sorted(set(ids[ids.duplicated()])))
    frame = pd.DataFrame({"region_id": ids.to_numpy(), "region_name": names.to_numpy()})
    if dupes:
        if duplicate_ids == "error":
            raise InputError(
                f"regions file {str(p)!r}: {id_field!r} is not unique ({', '.join(dupes[:10])} "
                "repeat). Choose a unique id field, number the regions by feature "
                "(--region-id omitted / id_field=None), or pass duplicate_ids='suffix' "
                "or 'dissolve'."
            )
        if duplicate_ids == "suffix":
            nth = frame.groupby("region_id").cumcount()
            frame["region_id"] = frame["region_id"].where(
                nth == 0, frame["region_id"] + "#" + (nth + 1).astype(str)
            )
        else:
            frame, geoms = _dissolve(frame, geoms, named.to_numpy())
        log.warning("region ids %s repeat: %s", ", ".join(dupes[:10]), duplicate_ids)
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=gdf.crs), crs=gdf.crs)
    unnamed = tuple(out["region_id"][out["region_id"] == out["region_name"]]) if name_field else ()
    report = RegionsReport(
        path=str(p),
        layer=layer,
        count=len(out),
        source_crs=_crs_label(gdf.crs),
        crs_assumed=assumed,
        repaired=repaired,
        empty=tuple(ids[empty_mask]),
        unnamed=unnamed,
        duplicates=dupes,
        invalid_reasons=reasons,
    )
    return out, report


def _dissolve(frame: pd.DataFrame, geoms: np.ndarray, named: np.ndarray):
    """Merge features sharing a region id (first non-empty name wins)."""
    order = pd.unique(frame["region_id"])
    pos = pd.Index(order).get_indexer(frame["region_id"])
    merged = np.empty(len(order), dtype=object)
    names = np.empty(len(order), dtype=object)
    for k in range(len(order)):
        members = np.flatnonzero(pos == k)
        merged[k] = shapely.union_all(geoms[members]) if members.size > 1 else geoms[members[0]]
        with_name = members[named[members]]
        names[k] = frame["region_name"].iat[(with_name if with_name.size else members)[0]]
    return pd.DataFrame({"region_id": order, "region_name": names}), merged


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


# --------------------------------------------------------------------------- writers


def _csvt_type(series: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(series):
        return "Integer64"
    if pd.api.types.is_float_dtype(series):
        return "Real"
    return "String"


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> list[Path]:
    """Write ``df`` as CSV plus a ``.csvt`` so QGIS reads numbers as numbers.

    Returns the two paths written.  Geometry columns are dropped; floats keep 10
    significant digits.
    """
    p = Path(path)
    table = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"]))
    table.to_csv(p, index=False, float_format="%.10g", lineterminator="\n")
    csvt = p.with_suffix(".csvt")
    types = [_csvt_type(table[c]) for c in table.columns]
    csvt.write_text(",".join(f'"{t}"' for t in types) + "\n")
    return [p, csvt]


def write_gpkg(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike,
    *,
    layer: str,
    metadata: dict[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    style_column: str | None = None,
    style_ramp: str = "YlGn",
) -> Path:
    """Write ``gdf`` as a GeoPackage layer (a new file; append layers with further calls).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The table.
    path : path-like
        GeoPackage to create or add the layer to.
    layer : str
        Layer name (one layer per table).
    metadata : dict of str to str, optional
        Layer metadata (GDAL metadata domain, shown in QGIS' layer properties).
    units : mapping of str to str, optional
        Unit of each numeric column; stored as the column description in
        ``gpkg_data_columns`` (QGIS shows it as the field comment) and in the
        layer metadata as ``units``.
    style_column : str, optional
        Numeric column to draw the layer graduated by: a default QGIS style is saved
        in the GeoPackage's ``layer_styles`` table, so QGIS opens the layer styled.
    style_ramp : str
        Matplotlib colour ramp of that style.
    """
    p = Path(path)
    meta = dict(metadata or {})
    if units:
        meta.setdefault("units", "; ".join(f"{k}={v}" for k, v in units.items()))
    mode = "a" if p.exists() else "w"
    gdf.to_file(p, layer=layer, driver="GPKG", engine="pyogrio", mode=mode, metadata=meta or None)
    with closing(sqlite3.connect(p)) as con, con:
        if units:
            _write_data_columns(con, layer, {c: u for c, u in units.items() if c in gdf.columns})
        if style_column is not None:
            if style_column not in gdf.columns:
                raise InputError(f"style column {style_column!r} is not in the table.")
            qml = graduated_style(
                gdf[style_column],
                style_column,
                ramp=style_ramp,
                unit=(units or {}).get(style_column),
            )
            _write_layer_style(con, layer, gdf.geometry.name, qml, style_column)
    return p


_SCHEMA_EXTENSION = "http://www.geopackage.org/spec/#extension_schema"


def _write_data_columns(con: sqlite3.Connection, table: str, units: Mapping[str, str]) -> None:
    """Column descriptions (units) through the GeoPackage schema extension."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, "
        "column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, "
        "constraint_name TEXT, CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), "
        "CONSTRAINT gdc_tn UNIQUE (table_name, name))"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
        "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
        "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"
    )
    for ext_table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
        con.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', ?, "
            "'read-write')",
            (ext_table, _SCHEMA_EXTENSION),
        )
    con.executemany(
        "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, description) "
        "VALUES (?, ?, ?)",
        [(table, col, f"unit: {unit}") for col, unit in units.items()],
    )


def _write_layer_style(
    con: sqlite3.Connection, table: str, geometry: str, qml: str, column: str
) -> None:
    """Save ``qml`` as the default style of ``table`` in QGIS' ``layer_styles`` table."""
    con.execute(
        'CREATE TABLE IF NOT EXISTS "layer_styles" ("id" INTEGER PRIMARY KEY AUTOINCREMENT '
        'NOT NULL, "f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), '
        '"f_table_name" TEXT(256), "f_geometry_column" TEXT(256), "styleName" TEXT(30), '
        '"styleQML" TEXT, "styleSLD" TEXT, "useAsDefault" BOOLEAN, "description" TEXT, '
        '"owner" TEXT(30), "ui" TEXT(30), "update_time" DATETIME DEFAULT '
        "(strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
    )
    # Registered as an attributes table, as QGIS does, so GDAL lists it too.
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    con.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, last_change) "
        "VALUES ('layer_styles', 'attributes', 'layer_styles', ?)",
        (now,),
    )
    con.execute('UPDATE "layer_styles" SET "useAsDefault" = 0 WHERE "f_table_name" = ?', (table,))
    con.execute(
        'INSERT INTO "layer_styles" ("f_table_catalog", "f_table_schema", "f_table_name", '
        '"f_geometry_column", "styleName", "styleQML", "styleSLD", "useAsDefault", '
        "\"description\", \"owner\", \"ui\") VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '')",
        (table, geometry, table, qml, f"soilmap: graduated by {column}"),
    )


def graduated_style(
    values: pd.Series, column: str, *, ramp: str = "YlGn", classes: int = 5, unit: str | None = None
) -> str:
    """A QGIS ``graduatedSymbol`` style (``.qml`` text) drawing polygons by ``column``.

    Class limits are quantiles of the finite values (fewer classes if they repeat);
    colours are sampled from the matplotlib ``ramp``.
    """
    import matplotlib

    finite = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        finite = np.array([0.0, 1.0])
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, classes + 1)))
    if edges.size < 2:
        edges = np.array([edges[0], edges[0] + 1.0])
    cmap = matplotlib.colormaps[ramp]
    colours = [cmap(x) for x in np.linspace(0.15, 1.0, edges.size - 1)]

    def rgba(c) -> str:
        return ",".join(str(round(v * 255)) for v in c[:3]) + ",255"

    def symbol(parent: ET.Element, name: str, colour) -> None:
        sym = ET.SubElement(
            parent,
            "symbol",
            {"type": "fill", "name": name, "alpha": "1", "clip_to_extent": "1", "force_rhr": "0"},
        )
        lay = ET.SubElement(sym, "layer", {"class": "SimpleFill", "enabled": "1", "pass": "0"})
        opts = ET.SubElement(lay, "Option", {"type": "Map"})
        for key, val in (
            ("color", rgba(colour)),
            ("outline_color", "60,60,60,255"),
            ("outline_style", "solid"),
            ("outline_width", "0.2"),
            ("outline_width_unit", "MM"),
            ("style", "solid"),
        ):
            ET.SubElement(opts, "Option", {"type": "QString", "name": key, "value": val})

    root = ET.Element("qgis", {"version": "3.34.0-Prizren", "styleCategories": "Symbology"})
    rend = ET.SubElement(
        root,
        "renderer-v2",
        {
            "type": "graduatedSymbol",
            "attr": column,
            "graduatedMethod": "GraduatedColor",
            "symbollevels": "0",
            "enableorderby": "0",
            "forceraster": "0",
        },
    )
    ranges = ET.SubElement(rend, "ranges")
    symbols = ET.SubElement(rend, "symbols")
    suffix = f" {unit}" if unit else ""
    for k in range(edges.size - 1):
        lo, hi = float(edges[k]), float(edges[k + 1])
        ET.SubElement(
            ranges,
            "range",
            {
                "lower": repr(lo),
                "upper": repr(hi),
                "symbol": str(k),
                "label": f"{lo:.4g} – {hi:.4g}{suffix}",
                "render": "true",
            },
        )
        symbol(symbols, str(k), colours[k])
    source = ET.SubElement(rend, "source-symbol")
    symbol(source, "0", colours[0])
    ramp_el = ET.SubElement(rend, "colorramp", {"type": "gradient", "name": "[source]"})
    ramp_opts = ET.SubElement(ramp_el, "Option", {"type": "Map"})
    for key, val in (("color1", rgba(cmap(0.15))), ("color2", rgba(cmap(1.0)))):
        ET.SubElement(ramp_opts, "Option", {"type": "QString", "name": key, "value": val})
    ET.SubElement(rend, "classificationMethod", {"id": "Quantile"})
    ET.SubElement(rend, "rotation")
    ET.SubElement(rend, "sizescale")
    ET.SubElement(
        rend,
        "labelformat",
        {"format": "%1 – %2", "decimalplaces": "4", "trimtrailingzeroes": "1"},
    )
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def write_parquet(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
) -> Path:
    """Write ``gdf`` as GeoParquet (needs pyarrow); units and metadata kept in the schema.

    Each column with a unit gets field metadata ``{"units": ...}``; ``metadata`` and
    the units go into the schema's ``soilmap`` key as JSON, beside GeoParquet's ``geo``.
    A plain DataFrame (no geometry) is written as plain Parquet.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise InputError("writing Parquet needs pyarrow: pip install pyarrow.") from exc
    p = Path(path)
    if isinstance(gdf, gpd.GeoDataFrame):
        gdf.to_parquet(p, index=False)
        table = pq.read_table(p)
    else:
        table = pa.Table.from_pandas(pd.DataFrame(gdf), preserve_index=False)
    units = dict(units or {})
    fields = [
        f.with_metadata({**(f.metadata or {}), b"units": units[f.name].encode()})
        if f.name in units
        else f
        for f in table.schema
    ]
    extra = {"metadata": dict(metadata or {}), "units": units}
    schema_meta = {**(table.schema.metadata or {}), b"soilmap": json.dumps(extra).encode()}
    table = table.cast(pa.schema(fields, metadata=schema_meta))
    pq.write_table(table, p)
    return p


def write_table(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    metadata: dict[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    style_column: str | None = None,
) -> list[Path]:
    """Write a zonal table by the file's suffix: ``.gpkg``, ``.csv`` or ``.parquet``.

    Returns every path written (``.csv`` also writes its ``.csvt``).

    Raises
    ------
    soilmap.errors.InputError
        For any other suffix.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".gpkg":
        return [
            write_gpkg(
                gdf,
                p,
                layer=layer or p.stem,
                metadata=metadata,
                units=units,
                style_column=style_column,
            )
        ]
    if suffix == ".csv":
        return write_csv(gdf, p)
    if suffix in (".parquet", ".geoparquet"):
        return [write_parquet(gdf, p, metadata=metadata, units=units)]
    raise InputError(
        f"cannot write a table to {str(p)!r}: use a .gpkg, .csv or .parquet file name."
    )
