"""What the soilmap algorithms share: metadata, advanced options, running the engine."""

from __future__ import annotations

import json

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..engine import Run, run_soilmap
from ..provider import ICON, engine_prefix

#: Raster codecs of soilmap (``--compress``).
CODECS = ("deflate", "zstd", "lzw")
DUPLICATE_IDS = ("error", "suffix", "dissolve")
HELP_URL = "https://github.com/soilmap/soilmap#use-from-qgis"


def toml_value(value) -> str:
    """``value`` as TOML (strings, numbers, booleans and lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(str(value), ensure_ascii=False)


def toml_document(sections: dict) -> str:
    """A TOML document of ``{section: {key: value}}`` (None values left out)."""
    lines = ["# soilmap run configuration written by the soilmap QGIS provider"]
    for section, items in sections.items():
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in items.items() if v is not None]
    return "\n".join(lines) + "\n"


class SoilmapAlgorithm(QgsProcessingAlgorithm):
    """Base of the algorithms: each builds a soilmap command line and loads its outputs."""

    SCHEDULER = "SCHEDULER"
    WORKERS = "WORKERS"
    MEMORY_LIMIT = "MEMORY_LIMIT"
    #: The algorithm's id (``soilmap:NAME``), its title and its help in the dialog.
    NAME = ""
    TITLE = ""
    HELP = ""

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("soilmap", text)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:
        return self.tr(self.TITLE)

    def shortHelpString(self) -> str:
        return self.tr(self.HELP)

    def createInstance(self):
        return type(self)()

    def icon(self) -> QIcon:
        return QIcon(ICON)

    def helpUrl(self) -> str:
        return HELP_URL

    def add_advanced(self, param) -> None:
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(param)

    def add_codec(self, name: str) -> None:
        self.addParameter(
            QgsProcessingParameterEnum(
                name, self.tr("Raster codec"), options=list(CODECS), defaultValue=0
            )
        )

    def add_cluster_parameters(self) -> None:
        """``--scheduler``, ``--workers``, ``--memory-limit`` (advanced)."""
        self.add_advanced(
            QgsProcessingParameterString(
                self.SCHEDULER,
                self.tr("Dask scheduler address (e.g. tcp://host:8786)"),
                optional=True,
            )
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                self.WORKERS,
                self.tr("Local worker processes"),
                type=QgsProcessingParameterNumber.Integer,
                optional=True,
                minValue=1,
            )
        )
        self.add_advanced(
            QgsProcessingParameterString(
                self.MEMORY_LIMIT, self.tr("Memory limit (e.g. 4GB)"), optional=True
            )
        )

    def cluster_args(self, parameters, context) -> list[str]:
        args: list[str] = []
        scheduler = self.parameterAsString(parameters, self.SCHEDULER, context).strip()
        if scheduler:
            args += ["--scheduler", scheduler]
        if parameters.get(self.WORKERS) not in (None, ""):
            args += ["--workers", str(self.parameterAsInt(parameters, self.WORKERS, context))]
        memory = self.parameterAsString(parameters, self.MEMORY_LIMIT, context).strip()
        if memory:
            args += ["--memory-limit", memory]
        return args

    def run_engine(self, args: list[str], feedback) -> Run:
        """Run ``soilmap ARGS`` (raises QgsProcessingException with soilmap's message)."""
        return run_soilmap(engine_prefix(), args, feedback)
