"""``soilmap:sample``: raster values at points (``soilmap sample``)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsWkbTypes,
)

from ..layers import check_geometry, check_id_field, raster_path, vector_layer_path, vector_path
from ..results import gpkg_layers, load_gpkg, load_table
from .base import SoilmapAlgorithm
from .zonal import TABLE_FILTER


class SampleAlgorithm(SoilmapAlgorithm):
    """The value of each raster at each point; points outside or on nodata reported so."""

    RASTERS, POINTS, ID, OUTPUT = "RASTERS", "POINTS", "ID", "OUTPUT"

    def name(self) -> str:
        return "sample"

    def displayName(self) -> str:
        return self.tr("Point sampling")

    def shortHelpString(self) -> str:
        return self.tr(
            "The value of each raster at each point (soilmap sample), e.g. soil profiles "
            "against SOC maps; points outside a raster or on its nodata are reported as such."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.RASTERS, self.tr("Rasters"), layerType=QgsProcessing.TypeRaster
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.POINTS, self.tr("Points"), types=[QgsProcessing.TypeVectorPoint]
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.ID,
                self.tr("Point id field"),
                parentLayerParameterName=self.POINTS,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT, self.tr("Sample table"), fileFilter=TABLE_FILTER
            )
        )

    def checkParameterValues(self, parameters, context):
        # Ours first: Processing's own check calls a raster given as a vector "not found".
        ok, message = check_geometry(
            self, parameters, self.POINTS, context, QgsWkbTypes.PointGeometry, "Points"
        )
        if ok:
            ok, message = super().checkParameterValues(parameters, context)
        if ok:
            ok, message = check_id_field(
                self, parameters, self.POINTS, self.ID, context, "Point id field"
            )
        return ok, message

    def processAlgorithm(self, parameters, context, feedback):
        from qgis.core import QgsVectorLayer

        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        layers = self.parameterAsLayerList(parameters, self.RASTERS, context)
        args = ["sample", *(raster_path(x, f"raster{i}", feedback) for i, x in enumerate(layers))]
        path, layer = vector_path(self, parameters, self.POINTS, context, feedback)
        if layer and len(gpkg_layers(path)) > 1:
            # The stated `soilmap sample` CLI has no layer option: one layer per file.
            path = vector_layer_path(
                QgsVectorLayer(f"{path}|layername={layer}", layer, "ogr"), "points", feedback
            )
        args += ["--points", path]
        field = self.parameterAsString(parameters, self.ID, context)
        if field:
            args += ["--id", field]
        self.run_engine([*args, "--out", out], feedback)
        if out.lower().endswith(".gpkg"):
            load_gpkg(context, out, visible=tuple(gpkg_layers(out)))
        else:
            load_table(context, out)
        return {self.OUTPUT: out if os.path.isfile(out) else None}
