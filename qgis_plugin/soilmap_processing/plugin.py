"""The QGIS plugin object: registers the soilmap provider with Processing."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import SoilmapProvider


class SoilmapPlugin:
    """Adds the "soilmap" provider to the Processing Toolbox (no menus of its own)."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: SoilmapProvider | None = None

    def initProcessing(self) -> None:
        if self.provider is None:
            self.provider = SoilmapProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
