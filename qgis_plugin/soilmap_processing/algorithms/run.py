"""``soilmap:run``: the 4 per 1000 sequestration potential (``soilmap run``)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputHtml,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from ..layers import raster_path, vector_layer_path, vector_path
from ..results import link_report, load_gpkg, load_rasters, output_rasters
from . import common
from .base import SoilmapAlgorithm, toml_document

#: Units of a SOC stock raster soilmap converts explicitly (index 0: the file or preset says).
SOC_UNITS = ("", "t C ha-1", "Mg C ha-1", "kg C m-2", "g C m-2")
#: SOC product presets (`soilmap.soc.products.list_products`); index 0: none.
PRODUCTS = ("", "gsnmap", "gsocmap", "gsocseq", "soilgrids2", "soilgrids2017", "whrc2017")
#: Land-cover class tables (`soilmap schemes`); a table file overrides the choice.
SCHEMES = (
    "esa_worldcover",
    "esa_cci_lc",
    "cgls_lc100",
    "modis_igbp",
    "corine",
    "corine_index",
    "globcover_2009",
)
GROWTH = ("linear", "compound")


class RunAlgorithm(SoilmapAlgorithm):
    """SOC (+ land cover, exclusions, regions) in; maps, zonal GeoPackage, run.json out."""

    SOC, SOC_UNITS, SOC_PRODUCT, TOP_CM, BOTTOM_CM = (
        "SOC",
        "SOC_UNITS",
        "SOC_PRODUCT",
        "TOP_CM",
        "BOTTOM_CM",
    )
    LANDCOVER, SCHEME, SCHEME_TABLE, EXCLUDE = "LANDCOVER", "SCHEME", "SCHEME_TABLE", "EXCLUDE"
    START_YEAR, HORIZONS, GROWTH, CONFIG = "START_YEAR", "HORIZONS", "GROWTH", "CONFIG"
    ZONAL, REPORT, RUN_JSON = "ZONAL", "REPORT", "RUN_JSON"

    NAME = "run"
    TITLE = "4 per 1000 sequestration potential"
    HELP = (
        "Projects the '4 per 1000' growth (0.4 %/yr) of the soil organic carbon stock "
        "per pixel and per region (soilmap run). Writes Cloud-Optimised GeoTIFFs with "
        "their styles, zonal_stats.gpkg (one row per region x land-use group), "
        "run.json and, with soilmap versions that make it, report.html, and adds them "
        "to the project. Units are never guessed: give the SOC units unless the file "
        "or the product preset states them. An existing result is replaced only with "
        "'Replace outputs of an earlier run'; Cancel leaves the folder as it was.\n\n"
        "Advanced: a soilmap config TOML replaces the input fields (output folder, "
        "overwrite and cluster options still apply)."
    )

    def initAlgorithm(self, config=None):
        self._soc_parameters()
        self._landcover_parameters()
        common.add_regions(self, optional=True)
        common.add_region_fields(self)
        self._scenario_parameters()
        common.add_output_folder(self)
        self.add_advanced(
            QgsProcessingParameterFile(
                self.CONFIG,
                self.tr("soilmap config TOML (instead of the fields above)"),
                extension="toml",
                optional=True,
            )
        )
        self.add_cluster_parameters()
        self.addOutput(QgsProcessingOutputFile(self.ZONAL, self.tr("Zonal statistics")))
        self.addOutput(QgsProcessingOutputHtml(self.REPORT, self.tr("soilmap report")))
        self.addOutput(QgsProcessingOutputFile(self.RUN_JSON, self.tr("Run manifest")))

    def _soc_parameters(self) -> None:
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.SOC, self.tr("SOC stock raster (0-30 cm)"), optional=True
            )
        )
        units = [self.tr("(stated by the file or the product)"), *SOC_UNITS[1:]]
        self.addParameter(
            QgsProcessingParameterEnum(
                self.SOC_UNITS, self.tr("SOC units"), options=units, defaultValue=0
            )
        )
        products = [self.tr("(none)"), *PRODUCTS[1:]]
        self.addParameter(
            QgsProcessingParameterEnum(
                self.SOC_PRODUCT, self.tr("SOC product preset"), options=products, defaultValue=0
            )
        )
        for name, label in ((self.TOP_CM, "top"), (self.BOTTOM_CM, "bottom")):
            self.add_advanced(
                QgsProcessingParameterNumber(
                    name,
                    self.tr(f"Depth of the stock: {label} (cm; default from the product)"),
                    type=QgsProcessingParameterNumber.Double,
                    optional=True,
                    minValue=0,
                )
            )

    def _landcover_parameters(self) -> None:
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.LANDCOVER, self.tr("Land-cover raster"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.SCHEME, self.tr("Land-cover classes"), options=list(SCHEMES), defaultValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.SCHEME_TABLE,
                self.tr("Land-cover class table (code,group,label,color; instead of a preset)"),
                fileFilter="Class tables (*.csv *.yaml *.yml)",
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.EXCLUDE,
                self.tr("Exclusion masks (protected areas, peat, urban ...)"),
                layerType=QgsProcessing.TypeVectorPolygon,
                optional=True,
            )
        )

    def _scenario_parameters(self) -> None:
        # Negative rates are losses, as with `soilmap run --rate`; soilmap refuses a slip.
        common.add_rate(self, "Relative annual SOC growth (0.004 = 4 per 1000)", losses=True)
        self.addParameter(
            QgsProcessingParameterNumber(
                self.START_YEAR, self.tr("Start year"), defaultValue=2020, minValue=1900
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.HORIZONS, self.tr("Horizons (years, comma-separated)"), "2030, 2050"
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.GROWTH, self.tr("Growth"), options=list(GROWTH), defaultValue=0
            )
        )

    def checkParameterValues(self, parameters, context):
        ok, message = common.check_features(self, parameters, context)
        if not ok:
            return ok, message
        if self.parameterAsFile(parameters, self.CONFIG, context):
            return True, ""
        if self.parameterAsRasterLayer(parameters, self.SOC, context) is None:
            return False, self.tr("Give a SOC stock raster, or a soilmap config TOML (advanced).")
        has_regions = parameters.get(common.REGIONS) not in (None, "")
        if has_regions and not self.parameterAsString(parameters, common.REGION_ID, context):
            return False, self.tr("Regions need a region id field.")
        try:
            self._horizons(parameters, context)
        except ValueError as exc:
            return False, str(exc)
        return True, ""

    def _horizons(self, parameters, context) -> list[int]:
        text = self.parameterAsString(parameters, self.HORIZONS, context)
        parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
        try:
            return [int(p) for p in parts]
        except ValueError:
            message = f"Horizons: {text!r} is not a list of years, e.g. 2030, 2050."
            raise ValueError(message) from None

    def _config_sections(self, parameters, context, feedback) -> dict:
        soc_layer = self.parameterAsRasterLayer(parameters, self.SOC, context)
        product = PRODUCTS[self.parameterAsEnum(parameters, self.SOC_PRODUCT, context)]
        soc = {
            "stock": raster_path(soc_layer, "soc", feedback),
            "units": SOC_UNITS[self.parameterAsEnum(parameters, self.SOC_UNITS, context)] or None,
            "product": product or None,
        }
        for key, name in (("top_cm", self.TOP_CM), ("bottom_cm", self.BOTTOM_CM)):
            if parameters.get(name) not in (None, ""):
                soc[key] = self.parameterAsDouble(parameters, name, context)
        sections = {"soc": soc}
        landcover = self.parameterAsRasterLayer(parameters, self.LANDCOVER, context)
        excludes = self.parameterAsLayerList(parameters, self.EXCLUDE, context)
        if landcover is not None:
            table = self.parameterAsFile(parameters, self.SCHEME_TABLE, context)
            scheme = SCHEMES[self.parameterAsEnum(parameters, self.SCHEME, context)]
            sections["landcover"] = {
                "path": raster_path(landcover, "landcover", feedback),
                "scheme": table or scheme,
                "exclude": [
                    vector_layer_path(x, f"exclude{i}", feedback) for i, x in enumerate(excludes)
                ]
                or None,
            }
        elif excludes:
            raise QgsProcessingException("Exclusion masks need a land-cover raster.")
        path, layer = vector_path(self, parameters, common.REGIONS, context, feedback)
        if path:
            id_field, name_field = common.region_fields(self, parameters, context)
            sections["regions"] = {
                "path": path,
                "layer": layer,
                "id_field": id_field,
                "name_field": name_field or None,
            }
        sections["scenario"] = {
            "rate": common.rate(self, parameters, context),
            "start_year": self.parameterAsInt(parameters, self.START_YEAR, context),
            "horizons": self._horizons(parameters, context),
            "growth": GROWTH[self.parameterAsEnum(parameters, self.GROWTH, context)],
        }
        return sections

    def command(self, parameters, context, feedback, out_dir: str) -> list[str]:
        """The ``soilmap run`` arguments for these parameters."""
        config = self.parameterAsFile(parameters, self.CONFIG, context)
        args = ["run"]
        if config:
            args.append(config)
        else:
            sections = self._config_sections(parameters, context, feedback)
            codec = common.codec(self, parameters, context)
            sections["output"] = {"dir": out_dir, "compress": codec}
            text = toml_document(sections)
            path = QgsProcessingUtils.generateTempFilename("soilmap_run.toml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            feedback.pushInfo(f"soilmap configuration ({path}):\n{text}")
            args.append(path)
        return [*args, *common.output_folder_args(self, parameters, context, out_dir)]

    def processAlgorithm(self, parameters, context, feedback):
        out_dir = self.parameterAsString(parameters, common.OUTPUT, context)
        self.run_engine(self.command(parameters, context, feedback, out_dir), feedback)
        load_rasters(context, out_dir, output_rasters(out_dir), "sequestration_rate")
        zonal = os.path.join(out_dir, "zonal_stats.gpkg")
        # Hidden: its opaque choropleth would cover the raster map (ticking it shows it).
        load_gpkg(context, zonal, visible=())
        return {
            common.OUTPUT: out_dir,
            self.ZONAL: zonal if os.path.isfile(zonal) else None,
            self.REPORT: link_report(out_dir, feedback),
            self.RUN_JSON: os.path.join(out_dir, "run.json"),
        }
