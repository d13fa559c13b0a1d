"""QGIS layer styles (``.qml``) written beside soilmap's GeoTIFFs.

QGIS loads ``<stem>.qml`` automatically when an analyst opens ``<stem>.tif``, so
every map soilmap writes can open with a sensible colour ramp and legend instead
of a grey stretch.  This module builds the two raster renderers soilmap needs:

* :func:`continuous_style` -- a ``singlebandpseudocolor`` renderer with an
  interpolated colour ramp between an explicit minimum and maximum (stocks,
  gains, rates);
* :func:`paletted_style` -- a ``paletted`` renderer with one colour and label
  per class (land cover, scenario classes).

The XML follows the layout QGIS 3.x writes itself (``<qgis>`` root, ``<pipe>``
with a ``<rasterrenderer>``, brightness/contrast, hue/saturation and resampler
siblings, ``<blendMode>``), is built with :mod:`xml.etree.ElementTree` so labels
are escaped correctly, and is written atomically with :func:`write_qml` next to
the raster named by :func:`style_path_for`.

Examples
--------
>>> xml = continuous_style(0.0, 80.0, ramp="YlGn", label_unit="t C ha-1")
>>> write_qml(style_path_for("out/stock_2030.tif"), xml)  # doctest: +SKIP
PosixPath('out/stock_2030.qml')
"""

from __future__ import annotations

import contextlib
import difflib
import math
import operator
import os
import pathlib
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import SupportsIndex

import matplotlib
import matplotlib.colors as mcolors
import numpy as np

from soilmap.errors import InputError
from soilmap.outputs._labels import distinct_labels, exact_number, label_decimals

__all__ = [
    "QGIS_VERSION",
    "continuous_style",
    "paletted_style",
    "style_path_for",
    "write_qml",
]

#: QGIS version written in the ``<qgis version=...>`` attribute.  Any QGIS 3.x
#: reads the styles; the value only tells a reader which layout was followed.
QGIS_VERSION = "3.34.0-Prizren"

_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# Characters XML 1.0 cannot carry at all (even escaped), plus lone surrogates
# that cannot be encoded as UTF-8.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Colour of no-data pixels when ``nodata_transparent=False`` (QGIS "r,g,b,a").
_NODATA_RGBA = "190,190,190,255"
#: Stops of the ``[source]`` gradient QGIS keeps for re-classifying in its GUI.
_SOURCE_RAMP_STOPS = 17


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def continuous_style(
    vmin: float,
    vmax: float,
    *,
    ramp: str = "YlGn",
    n_stops: int = 9,
    band: int = 1,
    label_unit: str | None = None,
    nodata_transparent: bool = True,
    diverging: bool = False,
) -> str:
    """QGIS singlebandpseudocolor (interpolated) style XML with explicit min/max.

    Parameters
    ----------
    vmin, vmax : float
        Values mapped to the first and last colour of the ramp.  They are written
        as the renderer's ``classificationMin``/``classificationMax`` and the
        shader's ``minimumValue``/``maximumValue``, and ``<minMaxOrigin>`` is set
        to ``<limits>None</limits>`` so QGIS keeps them instead of recomputing
        them from the raster's statistics.
    ramp : str, default "YlGn"
        Name of a matplotlib colormap (any key of :data:`matplotlib.colormaps`,
        including reversed ``"_r"`` variants).
    n_stops : int, default 9
        Number of colour stops (``<item>`` entries), evenly spaced from ``vmin``
        to ``vmax``; QGIS interpolates linearly between them.  At least 2.
    band : int, default 1
        1-based raster band the renderer reads.
    label_unit : str, optional
        Unit appended to every stop label (``"12.5 t C ha-1"``) and used as the
        suffix of QGIS's continuous legend.
    nodata_transparent : bool, default True
        If true, no-data pixels are transparent (QGIS's default).  If false they
        are painted light grey (RGB 190, 190, 190) so gaps in the map show.
    diverging : bool, default False
        Make the range symmetric about zero, ``[-m, m]`` with
        ``m = max(|vmin|, |vmax|)``, so that zero falls on the centre colour of
        a diverging ramp (pass one, e.g. ``ramp="RdBu"`` or ``"BrBG"``).  With an
        odd ``n_stops`` zero is itself a stop.

    Returns
    -------
    str
        The ``.qml`` document (DOCTYPE line plus pretty-printed XML), ready for
        :func:`write_qml`.

    Raises
    ------
    soilmap.errors.InputError
        (a :class:`ValueError`) if ``vmin > vmax``, the ramp name is unknown,
        ``n_stops < 2``, ``band < 1`` or the unit contains characters XML cannot
        hold.

    Notes
    -----
    Degenerate ranges still give a valid style with ``minimum < maximum``:

    * a non-finite bound (NaN or ±inf, e.g. the statistics of an all-no-data
      raster) is replaced by the other bound; if both are non-finite the range
      is centred on 0;
    * a constant range ``vmin == vmax == v`` (or one too narrow for distinct
      float stops) is widened to ``v ± |v|·0.01``, or to ``±1`` when ``v == 0``.

    So the written minimum/maximum equal ``vmin``/``vmax`` exactly unless one of
    these rules or ``diverging`` applies.

    Stop labels use 3 significant digits, with more only where needed to keep
    neighbouring labels distinct; the notation is positional (``"12.5"``) unless
    the largest magnitude is at least one million or below 0.001, in which case
    every label is scientific (``"1.23e+06"``).
    """
    cmap = _colormap(ramp)
    n_stops = _positive_int(n_stops, "n_stops", minimum=2)
    band = _positive_int(band, "band", minimum=1)
    if label_unit is not None:
        label_unit = _xml_text(label_unit, "label_unit").strip() or None

    lo, hi = _resolve_range(vmin, vmax, diverging=diverging)
    values, colours, numbers = _stops(lo, hi, n_stops, cmap)
    suffix = f" {label_unit}" if label_unit else ""
    decimals = label_decimals(numbers)

    root, pipe = _document()
    renderer = _pseudocolor_renderer(pipe, band, lo, hi, nodata_transparent=nodata_transparent)
    shader = _ramp_shader(renderer, lo, hi, decimals=decimals)
    _source_ramp(shader, cmap)
    _ramp_items(shader, values, colours, [number + suffix for number in numbers])
    _legend_settings(shader, suffix=suffix, decimals=decimals)
    _pipe_tail(root, pipe)
    return _serialise(root)


def paletted_style(entries: Sequence[tuple[int, str, str]], *, band: int = 1) -> str:
    """QGIS 'paletted' renderer: (value, '#rrggbb', label) per class.

    Parameters
    ----------
    entries : sequence of (int, str, str)
        One ``(value, colour, label)`` triple per class, in legend order.
        ``value`` is the integer pixel value, ``colour`` a ``#rrggbb`` hex
        string (upper case accepted, written lower case) and ``label`` the
        legend text; any text is allowed (``&``, ``<`` ... are escaped).
    band : int, default 1
        1-based raster band the renderer reads.

    Returns
    -------
    str
        The ``.qml`` document, ready for :func:`write_qml`.  Pixels whose value
        is not listed, and no-data pixels, are drawn transparent.

    Raises
    ------
    soilmap.errors.InputError
        (a :class:`ValueError`) if ``entries`` is empty, an entry is not a
        triple, a value is not an integer or occurs twice, a colour is not
        ``#rrggbb``, a label is not a string or contains characters XML cannot
        hold, or ``band < 1``.
    """
    band = _positive_int(band, "band", minimum=1)
    classes = _palette_entries(entries)

    root, pipe = _document()
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        {
            "type": "paletted",
            "band": str(band),
            "opacity": "1",
            "alphaBand": "-1",
            "nodataColor": "",
        },
    )
    ET.SubElement(renderer, "rasterTransparency")
    _min_max_origin(renderer)
    palette = ET.SubElement(renderer, "colorPalette")
    for value, colour, label in classes:
        ET.SubElement(
            palette,
            "paletteEntry",
            {"value": str(value), "color": colour, "label": label, "alpha": "255"},
        )
    _pipe_tail(root, pipe)
    return _serialise(root)


def write_qml(path: str | os.PathLike[str], xml: str) -> pathlib.Path:
    """Write atomically: write to a temp file in the same folder, then os.replace.

    A reader (QGIS, another process) sees either the old file or the complete
    new one, never a partial write; an existing file is replaced whole.  On
    failure the temporary file is removed and any existing file is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, usually ``style_path_for(raster_path)``.  Its folder must
        exist.
    xml : str
        Document from :func:`continuous_style` or :func:`paletted_style`;
        written as UTF-8 with a final newline.

    Returns
    -------
    pathlib.Path
        ``path`` as a :class:`pathlib.Path`.

    Raises
    ------
    TypeError
        If ``xml`` is not a string.
    FileNotFoundError
        If the destination folder does not exist.
    """
    if not isinstance(xml, str):
        raise TypeError(f"write_qml: xml must be a str, got {type(xml).__name__}")
    target = pathlib.Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot write style {target}: folder {folder} does not exist; create it first"
        )
    payload = (xml if xml.endswith("\n") else xml + "\n").encode("utf-8")
    tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
    # os.open with 0o666 lets the umask decide the permissions, like open()
    # would (tempfile.mkstemp would leave the style readable by its owner only).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def style_path_for(raster_path: str | os.PathLike[str]) -> pathlib.Path:
    """Path of the sidecar style QGIS loads for a raster.

    Parameters
    ----------
    raster_path : str or os.PathLike
        The raster, e.g. ``"out/gain_2030.tif"``.

    Returns
    -------
    pathlib.Path
        The same folder and stem with the last suffix replaced by ``.qml``
        (``out/gain_2030.qml``; ``a.b.tif`` gives ``a.b.qml``), which is the
        name QGIS looks for as the layer's default style.

    Raises
    ------
    soilmap.errors.InputError
        If the path has no file name (``""``, ``"."``, ``"out/.."``).
    """
    raster = pathlib.Path(raster_path)
    if raster.name in ("", ".", ".."):
        raise InputError(f"style_path_for: {str(raster_path)!r} does not name a raster file")
    return raster.with_suffix(".qml")


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def _colormap(ramp: str) -> mcolors.Colormap:
    if not isinstance(ramp, str):
        raise InputError(f"ramp must be a matplotlib colormap name, got {type(ramp).__name__}")
    try:
        return matplotlib.colormaps[ramp]
    except KeyError:
        close = difflib.get_close_matches(ramp, list(matplotlib.colormaps), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise InputError(
            f"unknown colour ramp {ramp!r}: use a matplotlib colormap name such as "
            f"'YlGn', 'viridis' or 'RdBu'{hint}"
        ) from None


def _positive_int(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {number}")
    return number


def _xml_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}: {text!r}")
    bad = _XML_ILLEGAL.search(text)
    if bad:
        raise InputError(
            f"{what} {text!r} contains the character {bad.group()!r}, which a .qml "
            "(XML) file cannot hold; remove it"
        )
    return text


def _hex_colour(colour: object, where: str) -> str:
    if not isinstance(colour, str) or not _HEX_COLOUR.fullmatch(colour):
        raise InputError(
            f"{where}: colour {colour!r} is not a '#rrggbb' hex string (e.g. '#1a9850')"
        )
    return colour.lower()


def _palette_entries(entries: Sequence[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
        raise InputError("entries must be a sequence of (value, '#rrggbb', label) tuples")
    if len(entries) == 0:
        raise InputError("entries is empty: a paletted style needs at least one class")
    classes: list[tuple[int, str, str]] = []
    seen: dict[int, int] = {}
    for i, entry in enumerate(entries):
        where = f"entries[{i}]"
        if isinstance(entry, str | bytes) or not isinstance(entry, Sequence) or len(entry) != 3:
            raise InputError(f"{where} = {entry!r} is not a (value, '#rrggbb', label) triple")
        raw_value, colour, label = entry
        if isinstance(raw_value, bool):
            raise InputError(f"{where}: value {raw_value!r} must be an integer class code")
        try:
            value = operator.index(raw_value)
        except TypeError:
            raise InputError(
                f"{where}: value {raw_value!r} must be an integer class code"
            ) from None
        if value in seen:
            raise InputError(
                f"{where}: value {value} already used by entries[{seen[value]}]; "
                "each class code may appear once"
            )
        seen[value] = i
        classes.append((value, _hex_colour(colour, where), _xml_text(label, f"{where}: label")))
    return classes


def _resolve_range(vmin: float, vmax: float, *, diverging: bool) -> tuple[float, float]:
    """Apply the documented NaN / constant / diverging rules to ``(vmin, vmax)``."""
    lo, hi = float(vmin), float(vmax)
    lo_ok, hi_ok = math.isfinite(lo), math.isfinite(hi)
    if lo_ok and hi_ok and lo > hi:
        raise InputError(
            f"vmin ({lo!r}) is greater than vmax ({hi!r}); pass the smaller value as vmin"
        )
    if not lo_ok and not hi_ok:
        lo = hi = 0.0
    elif not lo_ok:
        lo = hi
    elif not hi_ok:
        hi = lo
    if diverging:
        hi = max(abs(lo), abs(hi))
        lo = -hi
    if lo == hi or not _spread_ok(lo, hi):
        centre = (lo + hi) / 2.0
        delta = abs(centre) * 0.01 if centre != 0.0 else 1.0
        lo, hi = centre - delta, centre + delta
    return lo + 0.0, hi + 0.0  # + 0.0 turns -0.0 into 0.0


def _spread_ok(lo: float, hi: float) -> bool:
    """True if 256 evenly spaced values between ``lo`` and ``hi`` are distinct."""
    stops = np.linspace(lo, hi, 256)
    return bool(np.all(np.isfinite(stops)) and np.all(np.diff(stops) > 0))


def _rgba(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},255"


# --------------------------------------------------------------------------- #
# XML building blocks
# --------------------------------------------------------------------------- #
def _document() -> tuple[ET.Element, ET.Element]:
    root = ET.Element(
        "qgis",
        {
            "version": QGIS_VERSION,
            "styleCategories": "AllStyleCategories",
            "hasScaleBasedVisibilityFlag": "0",
            "maxScale": "0",
            "minScale": "1e+08",
        },
    )
    pipe = ET.SubElement(root, "pipe")
    return root, pipe


def _min_max_origin(renderer: ET.Element) -> None:
    """``<limits>None</limits>``: QGIS keeps the style's min/max as given."""
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (
        ("limits", "None"),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Estimated"),
        ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"),
        ("stdDevFactor", "2"),
    ):
        ET.SubElement(origin, tag).text = text


def _option_map(parent: ET.Element, options: list[tuple[str, str, str]]) -> None:
    mapping = ET.SubElement(parent, "Option", {"type": "Map"})
    for name, kind, value in options:
        ET.SubElement(mapping, "Option", {"name": name, "type": kind, "value": value})


def _source_ramp(shader: ET.Element, cmap: mcolors.Colormap) -> None:
    """The gradient QGIS offers when the analyst re-classifies in the GUI."""
    positions = np.linspace(0.0, 1.0, _SOURCE_RAMP_STOPS)
    rgba = [_rgba(mcolors.to_hex(cmap(float(t)), keep_alpha=False)) for t in positions]
    stops = ":".join(f"{t:.6g};{c}" for t, c in zip(positions[1:-1], rgba[1:-1], strict=True))
    ramp = ET.SubElement(shader, "colorramp", {"type": "gradient", "name": "[source]"})
    _option_map(
        ramp,
        [
            ("color1", "QString", rgba[0]),
            ("color2", "QString", rgba[-1]),
            ("discrete", "QString", "0"),
            ("rampType", "QString", "gradient"),
            ("stops", "QString", stops),
        ],
    )


def _stops(
    lo: float, hi: float, n_stops: int, cmap: mcolors.Colormap
) -> tuple[np.ndarray, list[str], list[str]]:
    """``n_stops`` values evenly spaced from ``lo`` to ``hi``, their colours and labels."""
    values = np.linspace(lo, hi, n_stops)
    values[0], values[-1] = lo, hi
    # Snap float noise around zero (e.g. the centre of a diverging range).
    values[np.abs(values) <= (hi - lo) * 1e-12] = 0.0
    fractions = np.linspace(0.0, 1.0, n_stops)
    colours = [mcolors.to_hex(cmap(float(t)), keep_alpha=False) for t in fractions]
    return values, colours, distinct_labels(values)


def _pseudocolor_renderer(
    pipe: ET.Element, band: int, lo: float, hi: float, *, nodata_transparent: bool
) -> ET.Element:
    """The ``singlebandpseudocolor`` renderer reading ``band``, classified on ``lo``-``hi``."""
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        {
            "type": "singlebandpseudocolor",
            "band": str(band),
            "opacity": "1",
            "alphaBand": "-1",
            "classificationMin": exact_number(lo),
            "classificationMax": exact_number(hi),
            "nodataColor": "" if nodata_transparent else _NODATA_RGBA,
        },
    )
    ET.SubElement(renderer, "rasterTransparency")
    _min_max_origin(renderer)
    return renderer


def _ramp_shader(renderer: ET.Element, lo: float, hi: float, *, decimals: int) -> ET.Element:
    """The renderer's interpolated colour-ramp shader (its stops are added after)."""
    return ET.SubElement(
        ET.SubElement(renderer, "rastershader"),
        "colorrampshader",
        {
            "colorRampType": "INTERPOLATED",
            "classificationMode": "1",
            "clip": "0",
            "minimumValue": exact_number(lo),
            "maximumValue": exact_number(hi),
            "labelPrecision": str(decimals),
        },
    )


def _ramp_items(
    shader: ET.Element, values: np.ndarray, colours: list[str], labels: list[str]
) -> None:
    """One ``<item>`` per colour stop: its value, colour and legend label."""
    for value, colour, label in zip(values, colours, labels, strict=True):
        attrs = {"value": exact_number(value), "color": colour, "label": label, "alpha": "255"}
        ET.SubElement(shader, "item", attrs)


def _legend_settings(shader: ET.Element, *, suffix: str, decimals: int) -> None:
    """Continuous legend in the QGIS layer tree: unit as suffix, matching precision."""
    settings = ET.SubElement(
        shader,
        "rampLegendSettings",
        {
            "minimumLabel": "",
            "maximumLabel": "",
            "prefix": "",
            "suffix": suffix,
            "direction": "0",
            "useContinuousLegend": "1",
            "orientation": "2",
        },
    )
    _option_map(
        ET.SubElement(settings, "numericFormat", {"id": "basic"}),
        [
            ("decimal_separator", "QChar", ""),
            ("decimals", "int", str(decimals)),
            ("rounding_type", "int", "0"),
            ("show_plus", "bool", "false"),
            ("show_thousand_separator", "bool", "true"),
            ("show_trailing_zeros", "bool", "false"),
            ("thousand_separator", "QChar", ""),
        ],
    )


def _pipe_tail(root: ET.Element, pipe: ET.Element) -> None:
    """Pipe stages after the renderer, and the layer blend mode."""
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    ET.SubElement(
        pipe,
        "huesaturation",
        {
            "colorizeOn": "0",
            "colorizeRed": "255",
            "colorizeGreen": "128",
            "colorizeBlue": "128",
            "colorizeStrength": "100",
            "grayscaleMode": "0",
            "saturation": "0",
            "invertColors": "0",
        },
    )
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(pipe, "resamplingStage").text = "resamplingFilter"
    ET.SubElement(root, "blendMode").text = "0"


def _serialise(root: ET.Element) -> str:
    ET.indent(root, space="  ")
    return f"{_DOCTYPE}\n{ET.tostring(root, encoding='unicode')}\n"
