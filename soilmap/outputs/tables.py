"""Tables: the zonal GeoPackage (with units and a default QGIS style), CSV with .csvt, Parquet."""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import pandas as pd

from soilmap.errors import InputError
from soilmap.outputs.vector_style import graduated_style

__all__ = [
    "write_csv",
    "write_gpkg",
    "write_parquet",
    "write_table",
]


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
    style_expression: str | None = None,
    style_values: pd.Series | None = None,
    style_unit: str | None = None,
    label_field: str | None = None,
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
    style_expression : str, optional
        QGIS expression the renderer classes instead of ``style_column`` (features
        for which it is NULL are not drawn).
    style_values : pandas.Series, optional
        The values the expression gives (the quantile classes are computed from them).
    style_unit : str, optional
        Unit of those values in the legend (default: the column's unit).
    label_field : str, optional
        Field that labels each feature in the style.

    Notes
    -----
    A new file is written as GeoPackage 1.2 (GDAL ``VERSION=1.2``), which QGIS 3.22
    (GDAL 3.6) and later open without a version warning.
    """
    p = Path(path)
    meta = dict(metadata or {})
    if units:
        meta.setdefault("units", "; ".join(f"{k}={v}" for k, v in units.items()))
    mode = "a" if p.exists() else "w"
    options = {"dataset_options": {"VERSION": "1.2"}} if mode == "w" else {}
    gdf.to_file(
        p,
        layer=layer,
        driver="GPKG",
        engine="pyogrio",
        mode=mode,
        metadata=meta or None,
        **options,
    )
    import pyogrio

    geometry_column = pyogrio.read_info(p, layer=layer).get("geometry_name") or "geom"
    with closing(sqlite3.connect(p)) as con, con:
        if units:
            _write_data_columns(con, layer, {c: u for c, u in units.items() if c in gdf.columns})
        if style_expression is not None and style_values is not None:
            qml = graduated_style(style_values, style_expression, ramp=style_ramp, unit=style_unit)
            _write_layer_style(con, layer, geometry_column, qml, style_expression)
        elif style_column is not None:
            if style_column not in gdf.columns:
                raise InputError(f"style column {style_column!r} is not in the table.")
            qml = graduated_style(
                gdf[style_column],
                style_column,
                ramp=style_ramp,
                unit=(units or {}).get(style_column),
                label_field=label_field,
            )
            _write_layer_style(con, layer, geometry_column, qml, style_column)
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
