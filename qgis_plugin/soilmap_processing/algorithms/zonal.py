"""``soilmap:zonal``: exact zonal statistics of rasters per region (``soilmap zonal``)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsWkbTypes,
)

from ..layers import check_geometry, check_id_field, raster_path, vector_path
from ..results import load_gpkg, load_table
from .base import DUPLICATE_IDS, SoilmapAlgorithm

INVALID = ("repair", "error")
TABLE_FILTER = "GeoPackage (*.gpkg);;CSV (*.csv);;Parquet (*.parquet)"


class ZonalAlgorithm(SoilmapAlgorithm):
    """Area-weighted totals, means, min and max of rasters per region (and land use)."""

    RASTERS, REGIONS, REGION_ID, REGION_NAME = "RASTERS", "REGIONS", "REGION_ID", "REGION_NAME"
    LANDUSE, UNITS, INVALID, DUPLICATE_IDS = "LANDUSE", "UNITS", "INVALID", "DUPLICATE_IDS"
    OUTPUT = "OUTPUT"

    def name(self) -> str:
        return "zonal"

    def displayName(self) -> str:
        return self.tr("Zonal statistics")

    def shortHelpString(self) -> str:
        return self.tr(
            "Exact zonal statistics of rasters per region (soilmap zonal): border cells "
            "count by their share inside each region, per-hectare rasters (units '... ha-1') "
            "are totalled with true cell areas (<name>_sum). With soilmap's "
            "landuse_fractions.tif or landuse.tif, one row per region x land-use group."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.RASTERS, self.tr("Rasters"), layerType=QgsProcessing.TypeRaster
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.REGIONS, self.tr("Regions"), types=[QgsProcessing.TypeVectorPolygon]
            )
        )
        for name, label in (
            (self.REGION_ID, "Region id field (default: the feature id)"),
            (self.REGION_NAME, "Region name field"),
        ):
            self.addParameter(
                QgsProcessingParameterField(
                    name, self.tr(label), parentLayerParameterName=self.REGIONS, optional=True
                )
            )
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.LANDUSE, self.tr("Land use (soilmap's landuse_fractions.tif)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.UNITS, self.tr("Units of rasters that do not state theirs"), optional=True
            )
        )
        self.add_advanced(
            QgsProcessingParameterEnum(
                self.INVALID, self.tr("Invalid geometries"), options=list(INVALID), defaultValue=0
            )
        )
        self.add_advanced(
            QgsProcessingParameterEnum(
                self.DUPLICATE_IDS,
                self.tr("Repeated region ids"),
                options=list(DUPLICATE_IDS),
                defaultValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT, self.tr("Zonal table"), fileFilter=TABLE_FILTER
            )
        )

    def checkParameterValues(self, parameters, context):
        # Ours first: Processing's own check calls a raster given as a vector "not found".
        ok, message = check_geometry(
            self, parameters, self.REGIONS, context, QgsWkbTypes.PolygonGeometry, "Regions"
        )
        if ok:
            ok, message = super().checkParameterValues(parameters, context)
        if ok:
            ok, message = check_id_field(
                self, parameters, self.REGIONS, self.REGION_ID, context, "Region id field"
            )
        return ok, message

    def command(self, parameters, context, feedback, out: str) -> list[str]:
        layers = self.parameterAsLayerList(parameters, self.RASTERS, context)
        args = ["zonal", *(raster_path(x, f"raster{i}", feedback) for i, x in enumerate(layers))]
        path, layer = vector_path(self, parameters, self.REGIONS, context, feedback)
        args += ["--regions", path]
        if layer:
            args += ["--regions-layer", layer]
        for flag, name in (
            ("--region-id", self.REGION_ID),
            ("--region-name", self.REGION_NAME),
            ("--units", self.UNITS),
        ):
            value = self.parameterAsString(parameters, name, context)
            if value:
                args += [flag, value]
        landuse = self.parameterAsRasterLayer(parameters, self.LANDUSE, context)
        if landuse is not None:
            args += ["--landuse", raster_path(landuse, "landuse", feedback)]
        args += ["--invalid", INVALID[self.parameterAsEnum(parameters, self.INVALID, context)]]
        dup = DUPLICATE_IDS[self.parameterAsEnum(parameters, self.DUPLICATE_IDS, context)]
        # The file destination's own dialog already asked before replacing a file.
        return [*args, "--duplicate-ids", dup, "--out", out, "--overwrite"]

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        self.run_engine(self.command(parameters, context, feedback, out), feedback)
        if out.lower().endswith(".gpkg"):
            load_gpkg(context, out, visible=("zonal_stats", "regions"))
        else:
            load_table(context, out)
        return {self.OUTPUT: out if os.path.isfile(out) else None}
