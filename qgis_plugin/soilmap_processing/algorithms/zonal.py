"""``soilmap:zonal``: exact zonal statistics of rasters per region (``soilmap zonal``)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..layers import raster_path, vector_path
from . import common
from .base import SoilmapAlgorithm

INVALID = ("repair", "error")


class ZonalAlgorithm(SoilmapAlgorithm):
    """Area-weighted totals, means, min and max of rasters per region (and land use)."""

    LANDUSE, UNITS, INVALID = "LANDUSE", "UNITS", "INVALID"

    NAME = "zonal"
    TITLE = "Zonal statistics"
    HELP = (
        "Exact zonal statistics of rasters per region (soilmap zonal): border cells "
        "count by their share inside each region, per-hectare rasters (units '... ha-1') "
        "are totalled with true cell areas (<name>_sum). With soilmap's "
        "landuse_fractions.tif or landuse.tif, one row per region x land-use group."
    )

    def initAlgorithm(self, config=None):
        common.add_rasters(self)
        common.add_regions(self)
        common.add_region_fields(self, id_label="Region id field (default: the feature id)")
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
        common.add_duplicate_ids(self)
        common.add_table_output(self, "Zonal table")

    def checkParameterValues(self, parameters, context):
        return common.check_features(self, parameters, context)

    def command(self, parameters, context, feedback, out: str) -> list[str]:
        args = ["zonal", *common.raster_args(self, parameters, context, feedback)]
        path, layer = vector_path(self, parameters, common.REGIONS, context, feedback)
        args += ["--regions", path]
        if layer:
            args += ["--regions-layer", layer]
        flags = (
            ("--region-id", common.REGION_ID),
            ("--region-name", common.REGION_NAME),
            ("--units", self.UNITS),
        )
        args += common.flag_args(self, parameters, context, flags)
        landuse = self.parameterAsRasterLayer(parameters, self.LANDUSE, context)
        if landuse is not None:
            args += ["--landuse", raster_path(landuse, "landuse", feedback)]
        args += ["--invalid", INVALID[self.parameterAsEnum(parameters, self.INVALID, context)]]
        dup = common.duplicate_ids(self, parameters, context)
        # The file destination's own dialog already asked before replacing a file.
        return [*args, "--duplicate-ids", dup, "--out", out, "--overwrite"]

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsFileOutput(parameters, common.OUTPUT, context)
        self.run_engine(self.command(parameters, context, feedback, out), feedback)
        return common.load_table_output(context, out, visible=("zonal_stats", "regions"))
