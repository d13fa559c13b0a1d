"""soilmap for QGIS: a Processing provider that runs the soilmap engine.

QGIS calls :func:`classFactory` when the plugin is enabled; the provider (ids
``soilmap:run``, ``soilmap:zonal``, ``soilmap:gsocseq`` and ``soilmap:sample``) is
registered in :meth:`SoilmapPlugin.initProcessing`, so it also works in
``qgis_process`` and headless scripts.
"""


def classFactory(iface):
    """The plugin object QGIS loads (``iface`` is None in headless QGIS)."""
    from .plugin import SoilmapPlugin

    return SoilmapPlugin(iface)
