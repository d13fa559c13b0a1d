"""Layers in, files out: what soilmap can read, and the checks made before it runs.

soilmap reads files (GeoTIFF and any GDAL raster, any OGR vector format).  A layer
that lives only in QGIS (a memory layer, a virtual or database layer, a WMS, a
filtered layer) or whose "selected features only" box is ticked is written to a
temporary file first, so soilmap sees exactly what the user sees in QGIS.
"""

from __future__ import annotations

import os

from qgis.core import (
    QgsFeatureRequest,
    QgsMapLayerType,
    QgsProcessingException,
    QgsProcessingUtils,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
)

#: Vector formats soilmap reads from a file as they are (else: a temporary GeoPackage).
VECTOR_FORMATS = ["gpkg", "shp", "geojson", "json", "fgb", "gml", "kml", "sqlite", "tab"]
#: Single-layer formats: no ``--regions-layer`` is passed for them.
_SINGLE_LAYER = (".shp", ".geojson", ".json", ".fgb", ".tab")


def _readable_raster_file(layer: QgsRasterLayer) -> str | None:
    """The file of a GDAL raster layer soilmap can open as it is."""
    if layer.providerType() != "gdal":
        return None
    source = layer.source()
    return source if os.path.isfile(source) else None


def export_raster(layer: QgsRasterLayer, name: str, feedback=None) -> str:
    """Write a raster layer's raw values (not its rendering) to a temporary GeoTIFF."""
    path = QgsProcessingUtils.generateTempFilename(f"{name}.tif")
    provider = layer.dataProvider()
    pipe = QgsRasterPipe()
    if not pipe.set(provider.clone()):
        raise QgsProcessingException(f"cannot read raster layer {layer.name()!r} for export")
    writer = QgsRasterFileWriter(path)
    writer.setOutputFormat("GTiff")
    writer.setCreateOptions(["COMPRESS=DEFLATE", "TILED=YES", "BIGTIFF=IF_SAFER"])
    error = writer.writeRaster(
        pipe,
        provider.xSize(),
        provider.ySize(),
        provider.extent(),
        provider.crs(),
        layer.transformContext(),
    )
    if error != QgsRasterFileWriter.NoError:
        raise QgsProcessingException(f"cannot export raster layer {layer.name()!r} (error {error})")
    if feedback is not None:
        feedback.pushInfo(f"{layer.name()}: exported to {path} for soilmap")
    return path


def raster_path(layer: QgsRasterLayer | None, name: str, feedback=None) -> str | None:
    """A file soilmap can read holding ``layer`` (the layer's own file when it can)."""
    if layer is None:
        return None
    return _readable_raster_file(layer) or export_raster(layer, name, feedback)


def vector_path(alg, parameters, name: str, context, feedback) -> tuple[str | None, str | None]:
    """``(path, layer name or None)`` of a feature-source parameter, for soilmap.

    Processing writes the features to a temporary GeoPackage when the layer is not a
    plain file, has a filter, or only its selected features are to be used.
    """
    if parameters.get(name) in (None, ""):
        return None, None
    path, layer = alg.parameterAsCompatibleSourceLayerPathAndLayerName(
        parameters, name, context, VECTOR_FORMATS, "gpkg", feedback
    )
    if not path:
        return None, None
    if not layer or path.lower().endswith(_SINGLE_LAYER):
        layer = None
    return path, layer


def vector_layer_path(layer, name: str, feedback=None) -> str:
    """A file holding a vector layer (its own file, or a temporary GeoPackage)."""
    source = layer.source().split("|")[0]
    plain = (
        layer.providerType() == "ogr"
        and os.path.isfile(source)
        and not layer.subsetString()
        and "|" not in layer.source()
    )
    if plain:
        return source
    path = QgsProcessingUtils.generateTempFilename(f"{name}.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    result = QgsVectorFileWriter.writeAsVectorFormatV2(
        layer, path, layer.transformContext(), options
    )
    if result[0] != QgsVectorFileWriter.NoError:
        raise QgsProcessingException(f"cannot export layer {layer.name()!r}: {result[1]}")
    if feedback is not None:
        feedback.pushInfo(f"{layer.name()}: exported to {path} for soilmap")
    return path


def _layer_of(value, context):
    if isinstance(value, (QgsVectorLayer, QgsRasterLayer)):
        return value
    source = getattr(value, "source", None)  # QgsProcessingFeatureSourceDefinition
    if source is not None:
        value = source.staticValue()
    if isinstance(value, str) and value:
        return QgsProcessingUtils.mapLayerFromString(value, context)
    return None


def check_geometry(
    alg, parameters, name: str, context, geometry: int, label: str
) -> tuple[bool, str]:
    """Refuse a layer that is not vector features of ``geometry`` (e.g. a raster)."""
    value = parameters.get(name)
    if value in (None, ""):
        return True, ""
    layer = _layer_of(value, context)
    if layer is not None and layer.type() == QgsMapLayerType.RasterLayer:
        return False, (
            f"{label}: {layer.name()!r} is a raster layer; soilmap needs a vector layer of "
            f"{QgsWkbTypes.geometryDisplayString(geometry).lower()}s here."
        )
    source = alg.parameterAsSource(parameters, name, context)
    if source is None:
        return False, f"{label}: {value!r} cannot be opened as a vector layer."
    if QgsWkbTypes.geometryType(source.wkbType()) != geometry:
        kind = QgsWkbTypes.geometryDisplayString(QgsWkbTypes.geometryType(source.wkbType()))
        want = QgsWkbTypes.geometryDisplayString(geometry)
        return False, f"{label}: the layer holds {kind.lower()}s; soilmap needs {want.lower()}s."
    return True, ""


def check_id_field(
    alg, parameters, source_name: str, field_name: str, context, label: str
) -> tuple[bool, str]:
    """Refuse an id field that is missing or has NULL or empty values (with their rows)."""
    field = alg.parameterAsString(parameters, field_name, context)
    if not field:
        return True, ""
    source = alg.parameterAsSource(parameters, source_name, context)
    if source is None:
        return True, ""  # reported by check_geometry
    index = source.fields().lookupField(field)
    if index < 0:
        return False, f"{label}: the layer has no field {field!r}."
    request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
    request.setSubsetOfAttributes([index])
    missing = []
    for feature in source.getFeatures(request):
        value = feature.attributes()[index]
        if value is None or (hasattr(value, "isNull") and value.isNull()) or not str(value).strip():
            missing.append(feature.id())
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        return False, (
            f"{label}: field {field!r} is NULL or empty for {len(missing)} feature(s) "
            f"(feature ids {shown}); every region needs an id. Fill them in, or choose "
            "another field."
        )
    return True, ""
