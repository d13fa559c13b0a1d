"""Runs soilmap's QGIS provider in real headless QGIS; started by the tests with QGIS's Python.

This file runs under Debian's ``/usr/bin/python3`` (python3-qgis), never the project's
venv: ``python3 qgis_driver.py TASK.json RESULT.json``.  TASK holds ``plugin_dir`` (the
folder holding ``soilmap_processing``), ``executable`` (the venv's ``soilmap``) and a
list of ``steps``; each step runs one algorithm as the Processing dialog does
(parameter checks, the algorithm in a task with exceptions reported to the log, then
the result layers loaded into the project), optionally cancels it when the progress
passes ``cancel_at`` %, and records the log, the progress values, the results and
the project's layers (name, source, renderer type, visibility).  ``render`` writes
a PNG of the project's visible layers.  RESULT is the record, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _start(plugin_dir: str, executable: str):
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, "/usr/share/qgis/python/plugins")
    sys.path.insert(0, plugin_dir)
    from processing.core.Processing import Processing
    from processing.core.ProcessingConfig import ProcessingConfig

    Processing.initialize()
    import soilmap_processing

    plugin = soilmap_processing.classFactory(None)
    plugin.initProcessing()  # as QGIS does for a plugin with hasProcessingProvider=yes
    ProcessingConfig.setSettingValue("SOILMAP_EXECUTABLE", executable)
    QgsApplication.processingRegistry().providerById("soilmap").refreshAlgorithms()
    return app, plugin


def _feedback_class():
    from qgis.core import QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        def __init__(self, cancel_at: float | None) -> None:
            super().__init__()
            self.cancel_at = cancel_at
            self.log: list[list[str]] = []
            self.progress: list[float] = []

        def setProgress(self, value: float) -> None:
            super().setProgress(value)
            self.progress.append(float(value))
            if self.cancel_at is not None and value >= self.cancel_at and not self.isCanceled():
                self.log.append(["cancel", f"cancel at {value:.1f} %"])
                self.cancel()

        def pushInfo(self, info: str) -> None:
            self.log.append(["info", info])

        def pushConsoleInfo(self, info: str) -> None:
            self.log.append(["console", info])

        def pushCommandInfo(self, info: str) -> None:
            self.log.append(["command", info])

        def pushDebugInfo(self, info: str) -> None:
            self.log.append(["debug", info])

        def reportError(self, error: str, fatalError: bool = False) -> None:
            self.log.append(["error", error])

    return Recorder


def _layers() -> list[dict]:
    from qgis.core import QgsMapLayerType, QgsProject

    project = QgsProject.instance()
    root = project.layerTreeRoot()
    rows = []
    for layer in project.mapLayers().values():
        if layer.type() == QgsMapLayerType.RasterLayer:
            renderer = layer.renderer().type() if layer.renderer() else None
        else:
            renderer = layer.renderer().type() if layer.renderer() else None
        node = root.findLayer(layer.id())
        rows.append(
            {
                "name": layer.name(),
                "source": layer.source(),
                "kind": "raster" if layer.type() == QgsMapLayerType.RasterLayer else "vector",
                "renderer": renderer,
                "labels": bool(getattr(layer, "labelsEnabled", lambda: False)()),
                "visible": bool(node.isVisible()) if node else None,
                "valid": layer.isValid(),
            }
        )
    return rows


def _step(step: dict) -> dict:
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProject

    feedback = _feedback_class()(step.get("cancel_at"))
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    context.setFeedback(feedback)
    alg = QgsApplication.processingRegistry().createAlgorithmById(step["algorithm"])
    record: dict = {"algorithm": step["algorithm"]}
    if alg is None:
        record["missing"] = True
        return record
    params = dict(step["parameters"])
    ok, message = alg.checkParameterValues(params, context)
    record["checked"] = [ok, message]
    if ok:
        results, ok = alg.run(params, context, feedback, {}, True)
        record["ok"] = ok
        record["results"] = {k: str(v) for k, v in (results or {}).items()}
        if ok and step.get("load", True):
            handleAlgorithmResults(alg, context, feedback)
    record["log"] = feedback.log
    record["progress"] = feedback.progress
    record["layers"] = _layers()
    return record


def _render(path: str, size: int = 900) -> None:
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsProject
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    project = QgsProject.instance()
    layers = [
        n.layer() for n in project.layerTreeRoot().findLayers() if n.isVisible() and n.layer()
    ]
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[0].crs())
    extent = layers[-1].extent()  # the bottom layer: the main raster
    extent.scale(1.05)
    settings.setExtent(extent)
    ratio = extent.height() / extent.width()
    settings.setOutputSize(QSize(size, max(1, int(size * ratio))))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(path, "PNG")


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        task = json.load(f)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app, plugin = _start(task["plugin_dir"], task["executable"])
    from qgis.core import QgsApplication

    out: dict = {
        "algorithms": sorted(
            a.id() for a in QgsApplication.processingRegistry().providerById("soilmap").algorithms()
        ),
        "steps": [],
    }
    try:
        for step in task["steps"]:
            out["steps"].append(_step(step))
        if task.get("render"):
            _render(task["render"])
            out["rendered"] = task["render"]
    except Exception:  # the record says what failed, for the test's message
        out["driver_error"] = traceback.format_exc()
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    plugin.unload()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
