"""QGIS vector style (``.qml``) of the zonal GeoPackage: polygons coloured by a column.

Stored in the GeoPackage's ``layer_styles`` table (see
:func:`soilmap.outputs.tables.write_gpkg`), so QGIS draws the regions classed by a
statistic when the layer is opened.  The raster styles are in :mod:`soilmap.outputs.qml`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

__all__ = ["graduated_style"]


def rgba(c) -> str:
    return ",".join(str(round(v * 255)) for v in c[:3]) + ",255"


def symbol(parent: ET.Element, name: str, colour) -> None:
    sym = ET.SubElement(
        parent,
        "symbol",
        {"type": "fill", "name": name, "alpha": "1", "clip_to_extent": "1", "force_rhr": "0"},
    )
    lay = ET.SubElement(sym, "layer", {"class": "SimpleFill", "enabled": "1", "pass": "0"})
    opts = ET.SubElement(lay, "Option", {"type": "Map"})
    for key, val in (
        ("color", rgba(colour)),
        ("outline_color", "60,60,60,255"),
        ("outline_style", "solid"),
        ("outline_width", "0.2"),
        ("outline_width_unit", "MM"),
        ("style", "solid"),
    ):
        ET.SubElement(opts, "Option", {"type": "QString", "name": key, "value": val})


def graduated_style(
    values: pd.Series,
    column: str,
    *,
    ramp: str = "YlGn",
    classes: int = 5,
    unit: str | None = None,
    label_field: str | None = None,
) -> str:
    """A QGIS ``graduatedSymbol`` style (``.qml`` text) drawing polygons by ``column``.

    Class limits are quantiles of the finite values (fewer classes if they repeat);
    colours are sampled from the matplotlib ``ramp``.

    Parameters
    ----------
    values : pandas.Series
        The values the classes are computed from (those of the features drawn).
    column : str
        Field name, or a QGIS expression giving the value (features for which it is
        NULL are not drawn).
    ramp : str
        Matplotlib colour map.
    classes : int
        Number of quantile classes.
    unit : str, optional
        Unit appended to every legend entry.
    label_field : str, optional
        Field whose text labels each polygon (region names).
    """
    import matplotlib

    finite = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        finite = np.array([0.0, 1.0])
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, classes + 1)))
    if edges.size < 2:
        edges = np.array([edges[0], edges[0] + 1.0])
    cmap = matplotlib.colormaps[ramp]
    colours = [cmap(x) for x in np.linspace(0.15, 1.0, edges.size - 1)]

    root = ET.Element(
        "qgis",
        {
            "version": "3.34.0-Prizren",
            "styleCategories": "Symbology|Labeling" if label_field else "Symbology",
            "labelsEnabled": "1" if label_field else "0",
        },
    )
    rend = ET.SubElement(
        root,
        "renderer-v2",
        {
            "type": "graduatedSymbol",
            "attr": column,
            "graduatedMethod": "GraduatedColor",
            "symbollevels": "0",
            "enableorderby": "0",
            "forceraster": "0",
        },
    )
    ranges = ET.SubElement(rend, "ranges")
    symbols = ET.SubElement(rend, "symbols")
    suffix = f" {unit}" if unit else ""
    for k in range(edges.size - 1):
        lo, hi = float(edges[k]), float(edges[k + 1])
        ET.SubElement(
            ranges,
            "range",
            {
                "lower": repr(lo),
                "upper": repr(hi),
                "symbol": str(k),
                "label": f"{lo:.4g} – {hi:.4g}{suffix}",
                "render": "true",
            },
        )
        symbol(symbols, str(k), colours[k])
    source = ET.SubElement(rend, "source-symbol")
    symbol(source, "0", colours[0])
    ramp_el = ET.SubElement(rend, "colorramp", {"type": "gradient", "name": "[source]"})
    ramp_opts = ET.SubElement(ramp_el, "Option", {"type": "Map"})
    for key, val in (("color1", rgba(cmap(0.15))), ("color2", rgba(cmap(1.0)))):
        ET.SubElement(ramp_opts, "Option", {"type": "QString", "name": key, "value": val})
    ET.SubElement(rend, "classificationMethod", {"id": "Quantile"})
    ET.SubElement(rend, "rotation")
    ET.SubElement(rend, "sizescale")
    ET.SubElement(
        rend,
        "labelformat",
        {"format": "%1 – %2", "decimalplaces": "4", "trimtrailingzeroes": "1"},
    )
    if label_field:
        _labeling(root, label_field)
    for tag, text in (("blendMode", "0"), ("featureBlendMode", "0"), ("layerOpacity", "1")):
        ET.SubElement(root, tag).text = text
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def _labeling(root: ET.Element, field: str) -> None:
    """Simple labels: ``field`` in dark text with a white halo, placed inside each polygon."""
    labeling = ET.SubElement(root, "labeling", {"type": "simple"})
    settings = ET.SubElement(labeling, "settings", {"calloutType": "simple"})
    ET.SubElement(
        settings,
        "text-style",
        {
            "fieldName": field,
            "isExpression": "0",
            "fontFamily": "Sans Serif",
            "fontSize": "8",
            "fontSizeUnit": "Point",
            "textColor": "30,30,30,255",
            "textOpacity": "1",
            "multilineHeight": "1",
        },
    )
    ET.SubElement(
        settings,
        "text-buffer",
        {
            "bufferDraw": "1",
            "bufferSize": "0.8",
            "bufferSizeUnits": "MM",
            "bufferColor": "255,255,255,255",
            "bufferOpacity": "0.8",
        },
    )
    # placement 1 = "over point" (centroid inside the polygon); fitInPolygonOnly 0 so
    # small regions keep their label.
    ET.SubElement(
        settings,
        "placement",
        {"placement": "1", "centroidInside": "1", "centroidWhole": "0", "fitInPolygonOnly": "0"},
    )
    ET.SubElement(
        settings, "rendering", {"obstacle": "1", "displayAll": "0", "limitNumLabels": "0"}
    )
