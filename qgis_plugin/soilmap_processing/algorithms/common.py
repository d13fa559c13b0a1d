"""Parameters several soilmap algorithms ask for, each defined once, and their readers.

The names (``REGIONS``, ``REGION_ID`` ...), labels, defaults and the order in which an
algorithm adds them are what users and models see in the Processing dialogs: each
``add_*`` function adds its parameters in that order, and each reader turns their values
into soilmap's flags or config values.
"""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..layers import check_geometry, check_id_field, raster_path, vector_layer_path
from ..results import gpkg_layers, load_gpkg, load_table
from .base import CODECS, DUPLICATE_IDS

RASTERS = "RASTERS"
REGIONS, REGION_ID, REGION_NAME = "REGIONS", "REGION_ID", "REGION_NAME"
RATE = "RATE"
OUTPUT, OVERWRITE, COMPRESS = "OUTPUT", "OVERWRITE", "COMPRESS"
#: The advanced choice of what repeated region ids do (``--duplicate-ids``).
DUPLICATES = "DUPLICATE_IDS"
#: Tables soilmap writes (``--out`` of ``soilmap zonal`` and ``soilmap sample``).
TABLE_FILTER = "GeoPackage (*.gpkg);;CSV (*.csv);;Parquet (*.parquet)"


# --------------------------------------------------------------------------- inputs


def add_rasters(alg) -> None:
    """``RASTERS``: the rasters to read (``soilmap zonal`` / ``sample`` arguments)."""
    alg.addParameter(
        QgsProcessingParameterMultipleLayers(
            RASTERS, alg.tr("Rasters"), layerType=QgsProcessing.TypeRaster
        )
    )


def raster_args(alg, parameters, context, feedback) -> list[str]:
    """The files of the ``RASTERS`` layers (exported where soilmap cannot read them)."""
    layers = alg.parameterAsLayerList(parameters, RASTERS, context)
    return [raster_path(x, f"raster{i}", feedback) for i, x in enumerate(layers)]


def add_features(alg, name: str, label: str, kind: int, *, optional: bool = False) -> None:
    """A vector layer of features of ``kind`` (e.g. ``QgsProcessing.TypeVectorPoint``)."""
    alg.addParameter(
        QgsProcessingParameterFeatureSource(name, alg.tr(label), types=[kind], optional=optional)
    )


def add_field(alg, name: str, label: str, parent: str, *, optional: bool = True, **kw) -> None:
    """A field of the layer parameter ``parent`` (``kw``: e.g. ``type=`` Numeric)."""
    alg.addParameter(
        QgsProcessingParameterField(
            name, alg.tr(label), parentLayerParameterName=parent, optional=optional, **kw
        )
    )


def add_regions(alg, *, optional: bool = False) -> None:
    """``REGIONS``: the region polygons."""
    add_features(alg, REGIONS, "Regions", QgsProcessing.TypeVectorPolygon, optional=optional)


def add_region_fields(alg, *, id_label: str = "Region id field", id_optional: bool = True) -> None:
    """``REGION_ID`` and ``REGION_NAME``: fields of ``REGIONS`` (the name is optional)."""
    add_field(alg, REGION_ID, id_label, REGIONS, optional=id_optional)
    add_field(alg, REGION_NAME, "Region name field", REGIONS)


def region_fields(alg, parameters, context) -> tuple[str, str]:
    """The ``REGION_ID`` and ``REGION_NAME`` fields ('' where none is chosen)."""
    return (
        alg.parameterAsString(parameters, REGION_ID, context),
        alg.parameterAsString(parameters, REGION_NAME, context),
    )


def check_features(
    alg,
    parameters,
    context,
    *,
    layer: str = REGIONS,
    field: str = REGION_ID,
    geometry: int = QgsWkbTypes.PolygonGeometry,
    label: str = "Regions",
    field_label: str = "Region id field",
) -> tuple[bool, str]:
    """``checkParameterValues`` of an algorithm reading features and their id field.

    Ours first: Processing's own check calls a raster given as a vector "not found".
    """
    ok, message = check_geometry(alg, parameters, layer, context, geometry, label)
    if ok:
        ok, message = QgsProcessingAlgorithm.checkParameterValues(alg, parameters, context)
    if ok:
        ok, message = check_id_field(alg, parameters, layer, field, context, field_label)
    return ok, message


def one_layer_file(path: str, layer: str | None, name: str, feedback) -> str:
    """``path``, or a file of its ``layer`` only when it holds more (for commands that
    take no layer option: ``soilmap gsocseq``, ``soilmap sample``)."""
    if layer and len(gpkg_layers(path)) > 1:
        chosen = QgsVectorLayer(f"{path}|layername={layer}", layer, "ogr")
        return vector_layer_path(chosen, name, feedback)
    return path


def flag_args(alg, parameters, context, flags: tuple[tuple[str, str], ...]) -> list[str]:
    """``[flag, value, ...]`` of the string parameters that have a value."""
    args: list[str] = []
    for flag, name in flags:
        value = alg.parameterAsString(parameters, name, context)
        if value:
            args += [flag, value]
    return args


def add_duplicate_ids(alg) -> None:
    """``DUPLICATE_IDS`` (advanced): what repeated region ids do."""
    alg.add_advanced(
        QgsProcessingParameterEnum(
            DUPLICATES,
            alg.tr("Repeated region ids"),
            options=list(DUPLICATE_IDS),
            defaultValue=0,
        )
    )


def duplicate_ids(alg, parameters, context) -> str:
    """The ``--duplicate-ids`` value."""
    return DUPLICATE_IDS[alg.parameterAsEnum(parameters, DUPLICATES, context)]


# --------------------------------------------------------------------------- the rate


def add_rate(alg, label: str, *, losses: bool) -> None:
    """``RATE``: a relative annual growth of the SOC stock, 0.004 by default.

    With ``losses``, negative rates (losses) are accepted as by ``soilmap run``; a rate
    that looks like a unit slip (|rate| > 0.05 per year) is refused by soilmap when it
    reads the value (``soilmap.scenario.model.check_rate_slip``, the check of the CLI
    flags and config files), with its message in the log: the plugin keeps no copy of
    the rule.  Without, the dialog asks for a positive target (``soilmap gsocseq``).
    """
    bounds = {} if losses else {"minValue": 0}
    alg.addParameter(
        QgsProcessingParameterNumber(
            RATE,
            alg.tr(label),
            type=QgsProcessingParameterNumber.Double,
            defaultValue=0.004,
            **bounds,
        )
    )


def rate(alg, parameters, context) -> float:
    """The ``RATE`` value, per year."""
    return alg.parameterAsDouble(parameters, RATE, context)


# --------------------------------------------------------------------------- outputs


def add_output_folder(alg) -> None:
    """``OUTPUT`` folder, ``OVERWRITE`` (replace an earlier run) and the ``COMPRESS`` codec."""
    alg.addParameter(QgsProcessingParameterFolderDestination(OUTPUT, alg.tr("Output folder")))
    alg.addParameter(
        QgsProcessingParameterBoolean(
            OVERWRITE, alg.tr("Replace outputs of an earlier run"), defaultValue=False
        )
    )
    alg.add_codec(COMPRESS)


def codec(alg, parameters, context) -> str:
    """The ``COMPRESS`` codec (``--compress``)."""
    return CODECS[alg.parameterAsEnum(parameters, COMPRESS, context)]


def output_folder_args(alg, parameters, context, out_dir: str) -> list[str]:
    """``--out DIR [--overwrite]``, the cluster options and ``--progress json``."""
    args = ["--out", out_dir]
    if alg.parameterAsBoolean(parameters, OVERWRITE, context):
        args.append("--overwrite")
    return [*args, *alg.cluster_args(parameters, context), "--progress", "json"]


def add_table_output(alg, label: str) -> None:
    """``OUTPUT``: a table file (GeoPackage, CSV or Parquet)."""
    alg.addParameter(
        QgsProcessingParameterFileDestination(OUTPUT, alg.tr(label), fileFilter=TABLE_FILTER)
    )


def load_table_output(context, out: str, visible: tuple[str, ...] | None) -> dict:
    """Queue the table ``out`` for loading (a GeoPackage's layers named in ``visible``
    shown, all with None); the algorithm's result."""
    if out.lower().endswith(".gpkg"):
        load_gpkg(context, out, visible=tuple(gpkg_layers(out)) if visible is None else visible)
    else:
        load_table(context, out)
    return {OUTPUT: out if os.path.isfile(out) else None}
