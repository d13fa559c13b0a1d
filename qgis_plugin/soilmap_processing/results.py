"""soilmap's outputs added to the project with their styles.

soilmap writes a ``.qml`` beside every raster and a default style per GeoPackage
layer (its ``layer_styles`` table).  The layers are handed to Processing to load
when the algorithm ends (in the project the algorithm ran for); a post-processor
then applies those styles explicitly (Processing itself loads result layers without
their default style) and leaves one layer visible, so the map is legible: after a
run the main raster (the other rasters are under it anyway); the ``regions``
choropleth is loaded above it but unticked, since its opaque fills would hide the
raster and nested regions (a country and its provinces) hide each other;
``zonal_stats`` holds one polygon per region × land use × scenario, stacked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from qgis.core import (
    QgsDataProvider,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsVectorLayer,
)

#: Raster shown on top after a run (the others are loaded but hidden).
TOP_RASTER = "sequestration_rate"
#: Post-processors must outlive the algorithm: Processing keeps only a pointer.
_KEEP: list = []


class StyledLayer(QgsProcessingLayerPostProcessorInterface):
    """Applies soilmap's style to a loaded result layer and sets its visibility."""

    def __init__(self, style: str | None, visible: bool) -> None:
        super().__init__()
        self.style = style
        self.visible = visible

    def postProcessLayer(self, layer, context, feedback) -> None:
        if self.style:
            message, ok = layer.loadNamedStyle(self.style)
        else:
            message, ok = layer.loadDefaultStyle()
        if not ok and feedback is not None:
            feedback.pushInfo(f"{layer.name()}: no soilmap style applied ({message})")
        layer.triggerRepaint()
        project = context.project()
        node = project.layerTreeRoot().findLayer(layer.id()) if project else None
        if node is not None:
            node.setItemVisibilityChecked(self.visible)


def _load(context, uri: str, name: str, style: str | None, visible: bool, vector: bool) -> None:
    project = context.project()
    if project is None:  # e.g. qgis_process without a project: files only
        return
    details = QgsProcessingContext.LayerDetails(name, project, name)
    details.forceName = True
    details.layerTypeHint = (
        QgsProcessingUtils.LayerHint.Vector if vector else QgsProcessingUtils.LayerHint.Raster
    )
    post = StyledLayer(style, visible)
    _KEEP.append(post)
    details.setPostProcessor(post)
    context.addLayerToLoadOnCompletion(uri, details)


def gpkg_layers(path: str) -> list[str]:
    """Names of the layers of a GeoPackage."""
    layer = QgsVectorLayer(path, "", "ogr")  # held: the provider lives as long as it
    provider = layer.dataProvider()
    if provider is None:
        return []
    sep = QgsDataProvider.SUBLAYER_SEPARATOR
    return [s.split(sep)[1] for s in provider.subLayers() if len(s.split(sep)) > 1]


def output_rasters(out_dir: str) -> list[str]:
    """The rasters a run wrote (as ``run.json`` lists them), relative to ``out_dir``."""
    manifest = Path(out_dir) / "run.json"
    names: list[str] = []
    if manifest.is_file():
        outputs = json.loads(manifest.read_text(encoding="utf-8")).get("outputs", {})
        names = [n for n in outputs if n.endswith(".tif")]
    if not names:
        names = sorted(p.name for p in Path(out_dir).glob("*.tif"))
    names = [n for n in names if (Path(out_dir) / n).is_file()]
    # Listed bottom to top: the main map last, so it is drawn over the others.
    return sorted(names, key=lambda n: Path(n).stem == TOP_RASTER)


def load_rasters(context, out_dir: str, names: list[str], top: str | None) -> list[str]:
    """Queue rasters of ``out_dir`` for loading with their ``.qml``; return their paths."""
    paths = []
    for name in names:
        path = os.path.join(out_dir, name)
        qml = os.path.splitext(path)[0] + ".qml"
        stem = os.path.splitext(name)[0]
        visible = top is not None and os.path.basename(stem) == top
        _load(context, path, stem, qml if os.path.isfile(qml) else None, visible, vector=False)
        paths.append(path)
    return paths


def load_gpkg(context, path: str, visible: tuple[str, ...]) -> list[str]:
    """Queue every layer of a GeoPackage with its default style; visible: those named."""
    uris = []
    if not os.path.isfile(path):
        return uris
    for layer in gpkg_layers(path):
        uri = f"{path}|layername={layer}"
        _load(context, uri, layer, None, layer in visible, vector=True)
        uris.append(uri)
    return uris


def link_report(out_dir: str, feedback) -> str | None:
    """Log a link to ``report.html`` of the run if it wrote one; return its path."""
    report = os.path.join(out_dir, "report.html")
    if not os.path.isfile(report):
        return None
    feedback.pushInfo(f"soilmap report: {Path(report).resolve().as_uri()}")
    return report


def load_table(context, path: str) -> None:
    """Queue a CSV (or, where GDAL reads it, Parquet) table for loading."""
    if not os.path.isfile(path):
        return
    if path.lower().endswith(".parquet"):
        from osgeo import ogr

        if ogr.GetDriverByName("Parquet") is None:  # GDAL < 3.5 or built without Arrow
            return
    _load(context, path, Path(path).stem, None, True, vector=True)
