"""The "soilmap" Processing provider and its setting (the soilmap executable)."""

from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider, QgsSettings
from qgis.PyQt.QtGui import QIcon

from .engine import EngineNotFound, command_prefix, soilmap_commands

#: Processing ▸ Options ▸ Providers ▸ soilmap: the program that runs soilmap.
EXECUTABLE_SETTING = "SOILMAP_EXECUTABLE"
#: Where the sub-commands of an executable are remembered (``soilmap --help`` takes
#: seconds: it is asked once per executable file, not at every QGIS start).
_COMMANDS_KEY = "soilmap_processing/commands"
ICON = os.path.join(os.path.dirname(__file__), "icon.svg")


def executable_setting() -> str:
    """The "soilmap executable" setting ('' = ``soilmap`` on PATH)."""
    from processing.core.ProcessingConfig import ProcessingConfig

    return str(ProcessingConfig.getSetting(EXECUTABLE_SETTING) or "")


def engine_prefix() -> list[str]:
    """The command that starts soilmap, from the setting (see :func:`command_prefix`)."""
    return command_prefix(executable_setting())


def available_commands() -> set[str] | None:
    """Sub-commands of the configured soilmap, or None if it cannot be found."""
    try:
        prefix = engine_prefix()
    except EngineNotFound:
        return None
    exe = prefix[0]
    key = f"{os.path.realpath(exe)}|{os.stat(exe).st_mtime_ns}|{' '.join(prefix[1:])}"
    settings = QgsSettings()
    cached = settings.value(_COMMANDS_KEY, {}) or {}
    if isinstance(cached, dict) and key in cached:
        return set(str(cached[key]).split())
    commands = soilmap_commands(prefix)
    if commands:
        settings.setValue(_COMMANDS_KEY, {key: " ".join(sorted(commands))})
    return commands


class SoilmapProvider(QgsProcessingProvider):
    """Algorithms that run the soilmap engine as an external program."""

    def id(self) -> str:
        return "soilmap"

    def name(self) -> str:
        return "soilmap"

    def longName(self) -> str:
        return "soilmap: 4 per 1000 soil-carbon sequestration potential"

    def icon(self) -> QIcon:
        return QIcon(ICON)

    def svgIconPath(self) -> str:
        return ICON

    def load(self) -> bool:
        from processing.core.ProcessingConfig import ProcessingConfig, Setting

        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(
            Setting(
                self.name(),
                EXECUTABLE_SETTING,
                self.tr("soilmap executable (or a Python with soilmap installed)"),
                "",
                valuetype=Setting.FILE,
                placeholder=self.tr("Leave blank to use 'soilmap' on PATH"),
            )
        )
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        from processing.core.ProcessingConfig import ProcessingConfig

        ProcessingConfig.removeSetting(EXECUTABLE_SETTING)

    def loadAlgorithms(self) -> None:
        from .algorithms.gsocseq import GsocseqAlgorithm
        from .algorithms.run import RunAlgorithm
        from .algorithms.sample import SampleAlgorithm
        from .algorithms.zonal import ZonalAlgorithm

        for alg in (RunAlgorithm(), ZonalAlgorithm(), GsocseqAlgorithm()):
            self.addAlgorithm(alg)
        commands = available_commands()
        # Point sampling needs a soilmap with the `sample` command; an unknown
        # soilmap (not found yet) offers the three it has always had.
        if commands and "sample" in commands:
            self.addAlgorithm(SampleAlgorithm())
