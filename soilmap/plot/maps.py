"""Maps of a result raster: its QGIS colours, a legend with units, a scale bar, region outlines."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib.colors as mcolors
import numpy as np
from pyproj import CRS, Geod

from soilmap.plot.read import MAP_CELLS, palette_of, read_overview

__all__ = ["metres_per_unit", "raster_map"]


def _legend_unit(path: Path) -> str:
    """The unit the ``.qml``'s legend labels carry (``"0.25 x target"`` gives ``"x target"``)."""
    qml = path.with_suffix(".qml")
    if not qml.exists():
        return ""
    for item in ET.parse(qml).getroot().iter("item"):
        number, _, unit = item.get("label", "").partition(" ")
        if number and unit:
            return unit
    return ""


def _continuous_colours(path: Path) -> tuple[mcolors.Colormap, float, float] | None:
    """The ramp and its ends as the ``.qml`` beside the raster draws them in QGIS."""
    qml = path.with_suffix(".qml")
    if not qml.exists():
        return None
    shader = next(ET.parse(qml).getroot().iter("colorrampshader"), None)
    if shader is None:
        return None
    items = [(float(i.get("value", "nan")), i.get("color", "#000000")) for i in shader.iter("item")]
    lo, hi = float(shader.get("minimumValue", "nan")), float(shader.get("maximumValue", "nan"))
    if len(items) < 2 or not hi > lo:
        return None
    stops = [((v - lo) / (hi - lo), c) for v, c in items]
    return mcolors.LinearSegmentedColormap.from_list(path.stem, stops), lo, hi


def metres_per_unit(crs: Any, extent: tuple[float, float, float, float]) -> float:
    """Ground metres per map unit along x at the map's centre (for the scale bar).

    Projected CRSs give their linear unit's factor; geographic ones the geodesic
    length of one degree of longitude at the centre latitude (exact there, shorter
    towards the poles, as on any map of geographic coordinates).
    """
    c = CRS.from_user_input(crs)
    if c.is_geographic:
        lat = (extent[2] + extent[3]) / 2
        lon = (extent[0] + extent[1]) / 2
        _, _, dist = Geod(ellps="WGS84").inv(lon - 0.5, lat, lon + 0.5, lat)
        return float(dist)
    return float(c.axis_info[0].unit_conversion_factor)


def raster_map(
    path: str | os.PathLike,
    *,
    ax: Any = None,
    regions: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    band: int = 1,
    max_cells: int = MAP_CELLS,
) -> Any:
    """Draw a soilmap raster as QGIS shows it, from its overviews.

    Parameters
    ----------
    path : path-like
        A COG of a result folder (with its ``.qml`` beside it).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    regions : geopandas.GeoDataFrame, optional
        Region polygons drawn as outlines (reprojected to the raster's CRS).
    title : str, optional
        Axes title (default: the band description).
    band : int
        1-based band.
    max_cells : int
        Largest image read (the overview level that fits is used).

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with a colour bar (continuous, in the band's unit) or a class
        legend (paletted), and a scale bar.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib_scalebar.scalebar import ScaleBar

    p = Path(path)
    ov = read_overview(p, band=band, max_cells=max_cells)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5.5))
    qml = p.with_suffix(".qml")
    paletted = qml.exists() and "paletteEntry" in qml.read_text(encoding="utf-8")
    if paletted:
        classes = palette_of(p)
        codes = [c for c, _, _ in classes]
        listed = mcolors.ListedColormap([col for _, col, _ in classes])
        norm = mcolors.BoundaryNorm([*[c - 0.5 for c in codes], codes[-1] + 0.5], listed.N)
        present = set(np.unique(ov.values[np.isfinite(ov.values)]).astype(int).tolist())
        ax.imshow(ov.values, extent=ov.extent, cmap=listed, norm=norm, interpolation="nearest")
        handles = [Patch(color=col, label=lab) for c, col, lab in classes if c in present]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    else:
        style = _continuous_colours(p)
        if style is None:
            finite = ov.values[np.isfinite(ov.values)]
            lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
            style = (plt.get_cmap("viridis"), float(lo), float(hi) if hi > lo else float(lo) + 1)
        cmap, lo, hi = style
        img = ax.imshow(ov.values, extent=ov.extent, cmap=cmap, vmin=lo, vmax=hi)
        bar = ax.figure.colorbar(img, ax=ax, shrink=0.8, extend="both")
        # The legend's unit where the band's is a bare ratio ("1"): "x target" says more.
        bar.set_label(ov.units if ov.units not in ("", "1") else _legend_unit(p) or ov.units)
    if regions is not None and len(regions):
        # Outlines simplified to half a map pixel: admin boundaries carry millions of
        # vertices that a 1000-pixel map cannot show and matplotlib draws slowly.
        pixel = (ov.extent[1] - ov.extent[0]) / max(1, ov.values.shape[1])
        outlines = regions.to_crs(ov.crs).boundary.simplify(pixel / 2)
        outlines.plot(ax=ax, color="#222222", linewidth=0.6)
        ax.set_xlim(ov.extent[0], ov.extent[1])
        ax.set_ylim(ov.extent[2], ov.extent[3])
    ax.add_artist(
        ScaleBar(
            metres_per_unit(ov.crs, ov.extent),
            units="m",
            location="lower right",
            box_alpha=0.7,
            font_properties={"size": 8},
        )
    )
    ax.set_title(title or ov.description or p.stem, fontsize=10)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.set_xlabel(ov.crs.to_string() if ov.crs else "", fontsize=7)
    return ax
