"""``soilmap:gsocseq``: FAO GSOCseq scenarios against the 4 per 1000 target."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputFile,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..layers import check_geometry, check_id_field, vector_layer_path, vector_path
from ..results import gpkg_layers, link_report, load_gpkg, load_rasters, output_rasters
from .base import CODECS, DUPLICATE_IDS, SoilmapAlgorithm


class GsocseqAlgorithm(SoilmapAlgorithm):
    """Modelled GSOCseq sequestration (BAU, SSM1-3) as a share of the 4 per 1000 target."""

    FOLDER, REGIONS, REGION_ID, REGION_NAME = "FOLDER", "REGIONS", "REGION_ID", "REGION_NAME"
    RATE, EMISSIONS, DUPLICATE_IDS = "RATE", "EMISSIONS_FIELD", "DUPLICATE_IDS"
    OUTPUT, OVERWRITE, COMPRESS, TABLE = "OUTPUT", "OVERWRITE", "COMPRESS", "TABLE"

    def name(self) -> str:
        return "gsocseq"

    def displayName(self) -> str:
        return self.tr("GSOCseq comparison")

    def shortHelpString(self) -> str:
        return self.tr(
            "Compares FAO GSOCseq modelled sequestration (BAU, SSM1-3) with the 4 per 1000 "
            "target of T0, per pixel and per region (soilmap gsocseq). The folder holds the "
            "GSOCseq maps of one country: T0 and the ASR of at least one scenario. Writes "
            "target_rate.tif, share_<scenario>.tif, gsocseq_comparison.gpkg and run.json."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(
            QgsProcessingParameterFile(
                self.FOLDER,
                self.tr("Folder of GSOCseq maps"),
                behavior=QgsProcessingParameterFile.Folder,
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.REGIONS, self.tr("Regions"), types=[QgsProcessing.TypeVectorPolygon]
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.REGION_ID, self.tr("Region id field"), parentLayerParameterName=self.REGIONS
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.REGION_NAME,
                self.tr("Region name field"),
                parentLayerParameterName=self.REGIONS,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.RATE,
                self.tr("Target: relative annual SOC growth (0.004 = 4 per 1000)"),
                type=QgsProcessingParameterNumber.Double,
                defaultValue=0.004,
                minValue=0,
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.EMISSIONS,
                self.tr("Emissions field (t CO2e/yr) to offset"),
                parentLayerParameterName=self.REGIONS,
                type=QgsProcessingParameterField.Numeric,
                optional=True,
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
            QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder"))
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.OVERWRITE, self.tr("Replace outputs of an earlier run"), defaultValue=False
            )
        )
        self.add_codec(self.COMPRESS)
        self.add_cluster_parameters()
        self.addOutput(QgsProcessingOutputFile(self.TABLE, self.tr("Comparison table")))

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

    def command(self, parameters, context, feedback, out_dir: str) -> list[str]:
        folder = self.parameterAsFile(parameters, self.FOLDER, context)
        path, layer = vector_path(self, parameters, self.REGIONS, context, feedback)
        if layer and len(gpkg_layers(path)) > 1:
            # `soilmap gsocseq` has no --regions-layer: give it a file of this layer only.
            chosen = QgsVectorLayer(f"{path}|layername={layer}", layer, "ogr")
            path = vector_layer_path(chosen, "regions", feedback)
        args = ["gsocseq", folder, "--regions", path]
        args += ["--region-id", self.parameterAsString(parameters, self.REGION_ID, context)]
        for flag, name in (
            ("--region-name", self.REGION_NAME),
            ("--emissions-field", self.EMISSIONS),
        ):
            value = self.parameterAsString(parameters, name, context)
            if value:
                args += [flag, value]
        args += ["--rate", repr(self.parameterAsDouble(parameters, self.RATE, context))]
        args += ["--compress", CODECS[self.parameterAsEnum(parameters, self.COMPRESS, context)]]
        dup = DUPLICATE_IDS[self.parameterAsEnum(parameters, self.DUPLICATE_IDS, context)]
        args += ["--duplicate-ids", dup, "--out", out_dir]
        if self.parameterAsBoolean(parameters, self.OVERWRITE, context):
            args.append("--overwrite")
        return [*args, *self.cluster_args(parameters, context), "--progress", "json"]

    def processAlgorithm(self, parameters, context, feedback):
        out_dir = self.parameterAsString(parameters, self.OUTPUT, context)
        self.run_engine(self.command(parameters, context, feedback, out_dir), feedback)
        rasters = output_rasters(out_dir)
        shares = [n for n in rasters if os.path.basename(n).startswith("share_")]
        top = os.path.splitext(os.path.basename(shares[0]))[0] if shares else "target_rate"
        load_rasters(context, out_dir, rasters, top)
        table = os.path.join(out_dir, "gsocseq_comparison.gpkg")
        load_gpkg(context, table, visible=())  # hidden over the raster map, as in soilmap:run
        link_report(out_dir, feedback)
        return {self.OUTPUT: out_dir, self.TABLE: table if os.path.isfile(table) else None}
