"""Runs soilmap's QGIS provider in real headless QGIS; started by the tests with QGIS's Python.

This file runs under Debian's ``/usr/bin/python3`` (python3-qgis), never the project's
venv: ``python3 qgis_driver.py TASK.json RESULT.json``.  TASK holds ``plugin_dir`` (the
folder holding ``soilmap_processing``), ``executable`` (the venv's ``soilmap``) and a
list of ``steps``; each step, in an emptied project, runs one algorithm as the
Processing dialog does (parameter checks, the algorithm with exceptions reported to
the log, then the result layers loaded into the project), optionally cancels it when
the progress passes ``cancel_at`` %, and records the log, the progress values, the
results and the project's layers (name, source, renderer type, visibility).
``memory_layers`` gives parameters as memory copies of files with some features
selected ("selected features only"), ``memory_layer_lists`` as lists of memory copies
(a multiple-layers parameter), ``raster_layers`` as raster layers of the
project, ``snapshot`` hashes a folder before and after, ``render`` writes a PNG of
the project's visible layers.  RESULT is the record, as JSON.
"""

from __future__ import annotations

import hashlib
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
    # Position in the layer tree, 0 at the top (drawn last).
    order = {n.layerId(): i for i, n in enumerate(root.findLayers())}
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
                "tree_index": order.get(layer.id()),
            }
        )
    return rows


def _tree(folder: str) -> dict[str, str]:
    """sha256 of every file under ``folder`` (hidden staging folders included)."""
    digests = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def _memory_copy(path: str, name: str):
    """A memory layer of the project holding the features of a vector file."""
    from qgis.core import QgsFeatureRequest, QgsProject, QgsVectorLayer

    source = QgsVectorLayer(path, f"{name}_file", "ogr")
    assert source.isValid(), path
    layer = source.materialize(QgsFeatureRequest())
    layer.setName(f"{name}_in_memory")
    QgsProject.instance().addMapLayer(layer)
    return layer


def _memory_layer(name: str, spec: dict):
    """A memory copy of a vector file with the features of ``select`` selected."""
    from qgis.core import QgsProcessingFeatureSourceDefinition

    layer = _memory_copy(spec["path"], name.lower())
    layer.selectByExpression(spec["select"])
    return QgsProcessingFeatureSourceDefinition(layer.id(), True)


def _raster_layer(uri: str) -> str:
    """A raster layer of the project (e.g. /vsizip/...), as a layer id."""
    from qgis.core import QgsProject, QgsRasterLayer

    layer = QgsRasterLayer(uri, "soc_stock", "gdal")
    assert layer.isValid(), uri
    QgsProject.instance().addMapLayer(layer)
    return layer.id()


def _step(step: dict) -> dict:
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProject

    QgsProject.instance().clear()
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
    for name, spec in step.get("memory_layers", {}).items():
        params[name] = _memory_layer(name, spec)
    for name, paths in step.get("memory_layer_lists", {}).items():
        params[name] = [_memory_copy(p, f"{name.lower()}{i}").id() for i, p in enumerate(paths)]
    for name, uri in step.get("raster_layers", {}).items():
        params[name] = _raster_layer(uri)
    if step.get("snapshot"):
        record["before"] = _tree(step["snapshot"])
    ok, message = alg.checkParameterValues(params, context)
    record["checked"] = [ok, message]
    if ok:
        # As the Processing dialog runs it: exceptions go to the log (reportError).
        results, ok = alg.run(params, context, feedback, {}, True)
        record["ok"] = ok
        record["run_progress"] = list(feedback.progress)
        record["results"] = {k: str(v) for k, v in (results or {}).items()}
        if ok and step.get("load", True):
            handleAlgorithmResults(alg, context, feedback)
    if step.get("snapshot"):
        record["after"] = _tree(step["snapshot"])
    record["log"] = feedback.log
    record["layers"] = _layers()
    if step.get("render"):
        _render(step["render"])
        record["rendered"] = step["render"]
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
    except Exception:  # the record says what failed, for the test's message
        out["driver_error"] = traceback.format_exc()
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    plugin.unload()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
