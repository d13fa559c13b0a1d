"""``soilmap:gsocseq``: FAO GSOCseq scenarios against the 4 per 1000 target."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
)

from ..layers import vector_path
from ..results import link_report, load_gpkg, load_rasters, output_rasters
from . import common
from .base import SoilmapAlgorithm


class GsocseqAlgorithm(SoilmapAlgorithm):
    """Modelled GSOCseq sequestration (BAU, SSM1-3) as a share of the 4 per 1000 target."""

    FOLDER, EMISSIONS, TABLE = "FOLDER", "EMISSIONS_FIELD", "TABLE"

    NAME = "gsocseq"
    TITLE = "GSOCseq comparison"
    HELP = (
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
        common.add_regions(self)
        common.add_region_fields(self, id_optional=False)
        # A target: the engine takes a positive rate only (a loss is no target).
        target = "Target: relative annual SOC growth (0.004 = 4 per 1000)"
        common.add_rate(self, target, losses=False)
        common.add_field(
            self,
            self.EMISSIONS,
            "Emissions field (t CO2e/yr) to offset",
            common.REGIONS,
            type=QgsProcessingParameterField.Numeric,
        )
        common.add_duplicate_ids(self)
        common.add_output_folder(self)
        self.add_cluster_parameters()
        self.addOutput(QgsProcessingOutputFile(self.TABLE, self.tr("Comparison table")))

    def checkParameterValues(self, parameters, context):
        return common.check_features(self, parameters, context)

    def command(self, parameters, context, feedback, out_dir: str) -> list[str]:
        folder = self.parameterAsFile(parameters, self.FOLDER, context)
        path, layer = vector_path(self, parameters, common.REGIONS, context, feedback)
        # `soilmap gsocseq` has no --regions-layer: give it a file of this layer only.
        path = common.one_layer_file(path, layer, "regions", feedback)
        args = ["gsocseq", folder, "--regions", path]
        args += ["--region-id", self.parameterAsString(parameters, common.REGION_ID, context)]
        args += common.flag_args(
            self,
            parameters,
            context,
            (("--region-name", common.REGION_NAME), ("--emissions-field", self.EMISSIONS)),
        )
        args += ["--rate", repr(common.rate(self, parameters, context))]
        args += ["--compress", common.codec(self, parameters, context)]
        args += ["--duplicate-ids", common.duplicate_ids(self, parameters, context)]
        return [*args, *common.output_folder_args(self, parameters, context, out_dir)]

    def processAlgorithm(self, parameters, context, feedback):
        out_dir = self.parameterAsString(parameters, common.OUTPUT, context)
        self.run_engine(self.command(parameters, context, feedback, out_dir), feedback)
        rasters = output_rasters(out_dir)
        shares = [n for n in rasters if os.path.basename(n).startswith("share_")]
        top = os.path.splitext(os.path.basename(shares[0]))[0] if shares else "target_rate"
        load_rasters(context, out_dir, rasters, top)
        table = os.path.join(out_dir, "gsocseq_comparison.gpkg")
        load_gpkg(context, table, visible=())  # hidden over the raster map, as in soilmap:run
        link_report(out_dir, feedback)
        return {common.OUTPUT: out_dir, self.TABLE: table if os.path.isfile(table) else None}
