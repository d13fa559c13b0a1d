"""Vector input (regions) and table output (GeoPackage, CSV with .csvt, GeoParquet).

Every writer writes exactly the path it is given (callers stage files for atomic
moves, see :mod:`soilmap.io.staging`) and keeps units and metadata inside the file
where the format allows: GeoPackage layer metadata, column descriptions
(``gpkg_data_columns``) and a default QGIS style (``layer_styles``); Parquet schema
and field metadata.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from soilmap.errors import CRSError, InputError, InputNotFoundError
from soilmap.io.paths import check_virtual, gdal_path, is_virtual

# Every error pyogrio raises while reading (there is no FieldTypeError: naming it
# raised AttributeError and hid the real cause).
_READ_ERRORS = (
    DataSourceError,
    DataLayerError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)

__all__ = [
    "EMISSIONS",
    "DuplicatePolicy",
    "InvalidPolicy",
    "MissingIdPolicy",
    "RegionsReport",
    "check_crs",
    "read_regions",
    "read_vector",
]

log = logging.getLogger(__name__)

InvalidPolicy = Literal["repair", "error"]
DuplicatePolicy = Literal["error", "suffix", "dissolve"]
MissingIdPolicy = Literal["error", "drop"]
#: Column of :func:`read_regions`' frame with each region's emissions (t CO2e yr-1).
EMISSIONS = "emissions_t_co2e_per_yr"


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
    #: Rows (1-based, in file order) dropped for a NULL or empty id (``missing_ids="drop"``).
    dropped_missing_ids: tuple[int, ...] = ()


def check_crs(value: str, what: str) -> str:
    """``value`` if pyproj knows it as a CRS; else an error with pyproj's own words.

    >>> check_crs("EPSG:4326", "--regions-crs")
    'EPSG:4326'
    >>> check_crs("EPSG:99999", "--regions-crs")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    soilmap.errors.CRSError: --regions-crs 'EPSG:99999' is not a coordinate reference ...

    Raises
    ------
    soilmap.errors.CRSError
        pyproj cannot make a CRS of ``value``.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        CRS.from_user_input(value)
    except ProjCRSError as exc:
        raise CRSError(
            f"{what} {value!r} is not a coordinate reference system pyproj knows ({exc}). "
            "Give an EPSG code (e.g. EPSG:4326), a WKT or a PROJ string."
        ) from exc
    return value


def _ids(
    gdf: gpd.GeoDataFrame, p: Path, id_field: str | None, missing: MissingIdPolicy
) -> tuple[gpd.GeoDataFrame, tuple[int, ...], pd.Series]:
    """The features kept, the rows dropped for a missing id, and the ids (FIDs without a field)."""
    if id_field is None:
        return gdf, (), pd.Series(gdf.index.astype(str), index=gdf.index)
    gdf, dropped = _missing_ids(gdf, p, id_field, missing)
    return gdf, dropped, gdf[id_field].astype(str)


def _missing_ids(
    gdf: gpd.GeoDataFrame, p: Path, id_field: str, policy: MissingIdPolicy
) -> tuple[gpd.GeoDataFrame, tuple[int, ...]]:
    """Features whose id is NULL or blank: refused with their rows, or dropped."""
    raw = gdf[id_field]
    missing = np.asarray(raw.isna() | (raw.astype(str).str.strip() == ""))
    if not missing.any():
        return gdf, ()
    rows = tuple(int(i) + 1 for i in np.flatnonzero(missing))
    shown = ", ".join(map(str, rows[:20])) + (" ..." if len(rows) > 20 else "")
    if policy == "error":
        raise InputError(
            f"regions file {str(p)!r}: {len(rows)} feature(s) have a NULL or empty "
            f"{id_field!r} (rows {shown}, 1-based in file order). Fill in their ids, choose "
            "another id field, or pass --missing-ids drop (missing_ids = 'drop') to leave "
            "those features out."
        )
    log.warning("regions file %s: dropped %d features without an id (rows %s)", p, len(rows), shown)
    if missing.all():
        raise InputError(
            f"regions file {str(p)!r}: no feature has a {id_field!r} (all {len(rows)} are "
            "NULL or empty). Choose another id field."
        )
    return gdf[~missing], rows


def read_vector(
    path: Path,
    what: str,
    name: str,
    fix: str = "Check that it opens in QGIS; re-export it if it is truncated or corrupted.",
    **options: Any,
) -> gpd.GeoDataFrame:
    """Read a vector file with pyogrio; a missing or unreadable file is a typed error.

    Parameters
    ----------
    path : pathlib.Path
        Local file, URL or GDAL ``/vsi*`` path (checked through GDAL).
    what : str
        What the file is, for the messages, e.g. ``"regions file"``.
    name : str
        The path as the messages quote it.
    fix : str
        What the user can do when the file cannot be read (ends the message).
    **options
        Passed to :func:`geopandas.read_file` (``layer``, ``fid_as_index`` ...).

    Raises
    ------
    soilmap.errors.InputNotFoundError
        The file does not exist (or a URL cannot be reached).
    soilmap.errors.InputError
        pyogrio cannot read it (its message is kept).
    """
    if is_virtual(path):
        check_virtual(path, what)  # URLs and /vsi* paths: GDAL's own answer
    elif not path.exists():
        raise InputNotFoundError(f"{what} {name} does not exist. Check the path.")
    try:
        return gpd.read_file(gdal_path(path), engine="pyogrio", **options)
    except _READ_ERRORS as exc:
        raise InputError(f"{what} {name} cannot be read ({exc}). {fix}") from exc


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
    emissions_field: str | None = None,
    missing_ids: MissingIdPolicy = "error",
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
    emissions_field : str, optional
        Numeric field with each region's annual emissions (t CO2e yr-1), read into
        column ``emissions_t_co2e_per_yr`` (merged regions sum their parts').
    missing_ids : {"error", "drop"}
        Features whose ``id_field`` is NULL or blank: refused with their row numbers,
        or left out (reported in ``RegionsReport.dropped_missing_ids``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``region_id`` (str), ``region_name`` (str), ``geometry``, and
        ``emissions_t_co2e_per_yr`` with ``emissions_field``.
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
    gdf, assumed = _read_checked(
        p,
        layer=layer,
        crs=crs,
        fields=(
            ("--region-id", id_field),
            ("--region-name", name_field),
            ("emissions_field", emissions_field),
        ),
        fid_as_index=id_field is None,
    )
    gdf, dropped, ids = _ids(gdf, p, id_field, missing_ids)
    raw_names = gdf[name_field] if name_field else pd.Series(np.nan, index=gdf.index)
    named = raw_names.notna() & (raw_names.astype(str).str.strip() != "")
    names = raw_names.astype(str).where(named, ids)

    empty_mask = np.asarray(gdf.geometry.isna() | gdf.geometry.is_empty)
    geoms, repaired, reasons = _repaired(p, gdf.geometry.values, ids, empty_mask, invalid)

    dupes = tuple(sorted(set(ids[ids.duplicated()])))
    frame = pd.DataFrame({"region_id": ids.to_numpy(), "region_name": names.to_numpy()})
    if emissions_field is not None:
        frame[EMISSIONS] = _numeric_field(gdf[emissions_field], p, emissions_field)
    if dupes:
        frame, geoms = _deduplicated(p, frame, geoms, named, dupes, id_field, duplicate_ids)
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=gdf.crs), crs=gdf.crs)
    unnamed = tuple(out["region_id"][out["region_id"] == out["region_name"]]) if name_field else ()
    report = RegionsReport(
        path=gdal_path(p),
        layer=layer,
        count=len(out),
        source_crs=_crs_label(gdf.crs),
        crs_assumed=assumed,
        repaired=repaired,
        empty=tuple(ids[empty_mask]),
        unnamed=unnamed,
        duplicates=dupes,
        invalid_reasons=reasons,
        dropped_missing_ids=dropped,
    )
    return out, report


def _read_checked(
    p: Path,
    *,
    layer: str | None,
    crs: str | None,
    fields: tuple[tuple[str, str | None], ...],
    fid_as_index: bool,
) -> tuple[gpd.GeoDataFrame, bool]:
    """Read the regions file and check its fields, features, CRS and geometry types.

    Parameters
    ----------
    p : pathlib.Path
        The regions file.
    layer, crs : str, optional
        As for :func:`read_regions`.
    fields : tuple of (str, str or None)
        The fields the run names, each with the option that named it (for messages).
    fid_as_index : bool
        Index the frame by feature id (the regions are numbered by it).

    Returns
    -------
    geopandas.GeoDataFrame
        The features, in their CRS (``crs`` when the file has none).
    bool
        Whether the CRS was assumed.
    """
    gdf = read_vector(
        p,
        "regions file",
        repr(str(p)),
        layer=layer,
        fid_as_index=fid_as_index,
        fix="Check that it opens in QGIS (re-export it if it is truncated or corrupted), and "
        "name its layer with --regions-layer if it has several.",
    )
    names = [c for c in gdf.columns if c != gdf.geometry.name]
    for label, field in fields:
        if field is not None and field not in gdf.columns:
            raise InputError(
                f"regions file {str(p)!r} has no field {field!r} ({label}). "
                f"Its fields are: {', '.join(names)}."
            )
    if len(gdf) == 0:
        raise InputError(f"regions file {str(p)!r} holds no features.")
    assumed = False
    if crs is not None:
        check_crs(crs, "--regions-crs (crs under [regions])")
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
    return gdf, assumed


def _repaired(
    p: Path, geoms: np.ndarray, ids: pd.Series, empty: np.ndarray, invalid: InvalidPolicy
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """The geometries with the invalid ones repaired, the ids repaired and GEOS's reasons.

    Raises :class:`~soilmap.errors.InputError` instead with ``invalid="error"``.
    """
    bad = ~empty & ~np.asarray(shapely.is_valid(geoms))
    repaired = tuple(ids[bad])
    reasons = tuple(shapely.is_valid_reason(geoms[bad])) if bad.any() else ()
    if not bad.any():
        return geoms, repaired, reasons
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
    return geoms, repaired, reasons


def _deduplicated(
    p: Path,
    frame: pd.DataFrame,
    geoms: np.ndarray,
    named: pd.Series,
    dupes: tuple[str, ...],
    id_field: str | None,
    policy: DuplicatePolicy,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Regions with unique ids, as ``policy`` says (see :func:`read_regions`).

    ``named`` tells which features have a name of their own; ``dupes`` are the ids
    that repeat.  Raises :class:`~soilmap.errors.InputError` with ``policy="error"``.
    """
    if policy == "error":
        raise InputError(
            f"regions file {str(p)!r}: {id_field!r} is not unique ({', '.join(dupes[:10])} "
            "repeat). Choose a unique id field, number the regions by feature "
            "(--region-id omitted / id_field=None), or pass duplicate_ids='suffix' "
            "or 'dissolve'."
        )
    if policy == "suffix":
        nth = frame.groupby("region_id").cumcount()
        frame["region_id"] = frame["region_id"].where(
            nth == 0, frame["region_id"] + "#" + (nth + 1).astype(str)
        )
    else:
        frame, geoms = _dissolve(frame, geoms, named.to_numpy())
    log.warning("region ids %s repeat: %s", ", ".join(dupes[:10]), policy)
    return frame, geoms


def _numeric_field(values: pd.Series, path: Path, field: str) -> np.ndarray:
    """A field's values as float64 (NULL -> NaN); text that is not a number is refused."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype="float64")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        shown = ", ".join(repr(v) for v in values[bad].unique()[:5])
        raise InputError(
            f"field {field!r} of regions file {str(path)!r} must be a number (t CO2e yr-1) "
            f"in every feature, but {int(bad.sum())} feature(s) hold {shown}. Convert the "
            "column to a numeric type, or choose another emissions_field."
        )
    return numbers.to_numpy(dtype="float64")


def _dissolve(frame: pd.DataFrame, geoms: np.ndarray, named: np.ndarray):
    """Merge features sharing a region id (first non-empty name wins; emissions add up)."""
    order = pd.unique(frame["region_id"])
    pos = pd.Index(order).get_indexer(pd.Index(frame["region_id"]))
    merged = np.empty(len(order), dtype=object)
    names = np.empty(len(order), dtype=object)
    for k in range(len(order)):
        members = np.flatnonzero(pos == k)
        merged[k] = shapely.union_all(geoms[members]) if members.size > 1 else geoms[members[0]]
        with_name = members[named[members]]
        names[k] = frame["region_name"].iat[(with_name if with_name.size else members)[0]]
    out = pd.DataFrame({"region_id": order, "region_name": names})
    if EMISSIONS in frame:
        out[EMISSIONS] = frame[EMISSIONS].groupby(pos).sum(min_count=1).to_numpy()
    return out, merged


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


# --------------------------------------------------------------------------- writers
