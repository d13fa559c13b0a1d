"""``soilmap:sample``: raster values at points (``soilmap sample``)."""

from __future__ import annotations

from qgis.core import QgsProcessing, QgsWkbTypes

from ..layers import vector_path
from . import common
from .base import SoilmapAlgorithm


class SampleAlgorithm(SoilmapAlgorithm):
    """The value of each raster at each point; points outside or on nodata reported so."""

    POINTS, ID = "POINTS", "ID"

    NAME = "sample"
    TITLE = "Point sampling"
    HELP = (
        "The value of each raster at each point (soilmap sample), e.g. soil profiles "
        "against SOC maps; points outside a raster or on its nodata are reported as such."
    )

    def initAlgorithm(self, config=None):
        common.add_rasters(self)
        common.add_features(self, self.POINTS, "Points", QgsProcessing.TypeVectorPoint)
        common.add_field(self, self.ID, "Point id field", self.POINTS)
        common.add_table_output(self, "Sample table")

    def checkParameterValues(self, parameters, context):
        return common.check_features(
            self,
            parameters,
            context,
            layer=self.POINTS,
            field=self.ID,
            geometry=QgsWkbTypes.PointGeometry,
            label="Points",
            field_label="Point id field",
        )

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsFileOutput(parameters, common.OUTPUT, context)
        args = ["sample", *common.raster_args(self, parameters, context, feedback)]
        path, layer = vector_path(self, parameters, self.POINTS, context, feedback)
        # The stated `soilmap sample` CLI has no layer option: one layer per file.
        args += ["--points", common.one_layer_file(path, layer, "points", feedback)]
        args += common.flag_args(self, parameters, context, (("--id", self.ID),))
        self.run_engine([*args, "--out", out], feedback)
        return common.load_table_output(context, out, visible=None)
