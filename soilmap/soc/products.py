"""Units registry per source product: what each layer of a soil-carbon product means.

Each product is one TOML file in ``soilmap/soc/presets/`` (data, not code): per layer the
stored unit (scale included: SoilGrids 2.0 ``soc`` is ``"dg kg-1"``), the quantity, the
depth (a point, an interval, or read from the file name), the statistic, the
undeclared sentinels and the plausible-range rules (:class:`soilmap.soc.cleaning.Rule`),
and the file-name patterns that recognise it.

>>> m = recognise("orcdrc_m_sl2_250m_Ghana.tif")
>>> m.describe()
'soilgrids2017 orcdrc at 5 cm (mean), g kg-1'
>>> recognise("BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif").describe()
'gsocseq T0 0-30 cm (mean), t C ha-1'
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from soilmap.errors import ConfigError, UnitsError
from soilmap.io.raster import ChunkSpec, open_raster, read_layout
from soilmap.meta import append_history
from soilmap.soc.cleaning import Cleaned, Rule, apply_rules, rules_from_mappings
from soilmap.units import CANONICAL, parse_unit

__all__ = [
    "FIX_UNITS",
    "ROLE_QUANTITY",
    "LayerMatch",
    "LayerSpec",
    "OpenedLayer",
    "Product",
    "get_layer",
    "get_product",
    "identify",
    "list_products",
    "map_year",
    "open_layer",
    "recognise",
]

Depth = float | tuple[float, float]

#: Quantity each SOC input role must measure.
ROLE_QUANTITY: dict[str, str] = {
    "stock": "stock",
    "lower": "stock",
    "upper": "stock",
    "sd": "stock",
    "content": "concentration",
    "bulk_density": "bulk_density",
    "coarse_fragments": "fraction",
    "relative_uncertainty": "fraction",
}

#: How to declare the units of each role, for error messages.
FIX_UNITS: dict[str, str] = {
    "stock": "--soc-units on the command line, units = '...' in [soc], or product = '...'",
    "content": "content_units = '...' in [soc.layers], or product = '...'",
    "bulk_density": "bulk_density_units = '...' in [soc.layers], or product = '...'",
    "coarse_fragments": "coarse_fragments_units = '...' in [soc.layers], or product = '...'",
    "lower": "uncertainty_units = '...' in [soc]",
    "upper": "uncertainty_units = '...' in [soc]",
    "sd": "uncertainty_units = '...' in [soc]",
    "relative_uncertainty": "uncertainty_units = '...' in [soc]",
}

_STATISTICS = {
    "mean": "mean",
    "MEAN": "mean",
    "SDEV": "sd",
    "Q0.05": "q05",
    "Q0.5": "median",
    "Q0.95": "q95",
}


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a product, as declared in its TOML file.

    Attributes
    ----------
    product, name : str
        Product and layer key (e.g. ``"soilgrids2"``, ``"soc"``).
    quantity : str
        Key of :data:`soilmap.units.CANONICAL`.
    units : str
        Unit of the stored values, scale included (``"dg kg-1"``).
    long_name : str
    scale : float
        Extra factor applied to stored values to get ``units`` (1 for every carbon layer
        soilmap knows; kept for products whose scale is not a unit, e.g. pH × 10).
    statistic : str
        Default statistic (a file name may say otherwise, e.g. ``Q0.05``).
    depth_kind : {"point", "interval"} or None
    depth_cm : float or (float, float) or None
        Fixed depth, or None when the file name gives it.
    slot_depths_cm : tuple
        Depth of each numbered slot (``sl1`` … ``sl7``) for products that number them.
    rules : tuple of Rule
        Product-wide and layer rules, in stored units.
    patterns : tuple of str
        Regular expressions matched against the file stem.
    notes : str
    map_year : int, optional
        The year the layer maps (GSOCseq T0: 2020), when the product states one.
    """

    product: str
    name: str
    quantity: str
    units: str
    long_name: str = ""
    scale: float = 1.0
    statistic: str = "mean"
    depth_kind: Literal["point", "interval"] | None = None
    depth_cm: Depth | None = None
    slot_depths_cm: tuple[Depth, ...] = ()
    rules: tuple[Rule, ...] = ()
    patterns: tuple[str, ...] = ()
    notes: str = ""
    map_year: int | None = None

    @property
    def label(self) -> str:
        return f"{self.product} {self.name}"


@dataclass(frozen=True)
class Product:
    """A source product: its layers and which layer plays which SOC input role."""

    name: str
    title: str
    citation: str
    url: str
    notes: str
    layers: Mapping[str, LayerSpec]
    roles: Mapping[str, str] = field(default_factory=dict)

    def layer_for_role(self, role: str) -> LayerSpec | None:
        """Default layer for an input role (``"stock"``, ``"content"`` …), if any."""
        key = self.roles.get(role)
        return self.layers[key] if key else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for docs and ``run.json``)."""
        return {
            "name": self.name,
            "title": self.title,
            "citation": self.citation,
            "url": self.url,
            "layers": {
                k: {
                    "quantity": v.quantity,
                    "units": v.units,
                    "scale": v.scale,
                    "depth_kind": v.depth_kind,
                    "depth_cm": v.depth_cm,
                    "rules": [r.to_dict() for r in v.rules],
                }
                for k, v in self.layers.items()
            },
        }


@dataclass(frozen=True)
class LayerMatch:
    """A file identified as a product layer, with what its name tells.

    Attributes
    ----------
    layer : LayerSpec
    depth : float or (float, float) or None
        Point depth or interval (cm); None when unknown.
    statistic : str
        ``"mean"``, ``"median"``, ``"sd"``, ``"q05"``, ``"q95"`` …
    scenario : str or None
        GSOCseq scenario (``"BAU"``, ``"SSM1"`` …) or WHRC epoch.
    source : str
        The file name that was matched (empty when not from a name).
    """

    layer: LayerSpec
    depth: Depth | None = None
    statistic: str = "mean"
    scenario: str | None = None
    source: str = ""

    @property
    def units(self) -> str:
        return self.layer.units

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.layer.rules

    def describe(self, *, units: bool = True) -> str:
        """E.g. ``"soilgrids2017 orcdrc at 5 cm (mean), g kg-1"``."""
        d = self.depth
        if d is None:
            where = ""
        elif isinstance(d, tuple):
            where = f" {d[0]:g}-{d[1]:g} cm"
        else:
            where = f" at {d:g} cm"
        scen = f" {self.scenario}" if self.scenario else ""
        tail = f", {self.layer.units}" if units else ""
        return f"{self.layer.label}{scen}{where} ({self.statistic}){tail}"


def map_year(match: LayerMatch) -> int | None:
    """The year a matched layer maps: its preset's ``map_year``, or a year its file name
    states as the epoch (WHRC ``..._year_2010AD_...``); None when neither says.

    >>> map_year(recognise("SOCS_0_30cm_year_2010AD_10km.tif"))
    2010
    """
    if match.layer.map_year is not None:
        return int(match.layer.map_year)
    found = re.fullmatch(r"(\d{4})AD", match.scenario or "")
    return int(found.group(1)) if found else None


def _depth(value: Any) -> Depth | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return (float(value[0]), float(value[1]))
    return float(value)


def _load(name: str, text: str) -> Product:
    where = f"soilmap/soc/presets/{name}.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # a packaging bug, not a user error
        raise ConfigError(f"{where}: invalid TOML ({exc}).") from exc
    common = rules_from_mappings(data.get("rules", []))
    layers = {}
    for key, lay in data.get("layers", {}).items():
        units = lay["units"]
        parse_unit(units, quantity=lay["quantity"], what=f"{where} layer {key!r}")
        own = rules_from_mappings(lay.get("rules", []), units=units)
        layers[key] = LayerSpec(
            product=data["name"],
            name=key,
            quantity=lay["quantity"],
            units=units,
            long_name=lay.get("long_name", key),
            scale=float(lay.get("scale", 1.0)),
            statistic=lay.get("statistic", "mean"),
            depth_kind=lay.get("depth_kind"),
            depth_cm=_depth(lay.get("depth_cm")),
            slot_depths_cm=tuple(_depth(d) for d in lay.get("slot_depths_cm", ())),  # type: ignore[misc]
            rules=common + own,
            patterns=tuple(lay.get("patterns", ())),
            notes=lay.get("notes", ""),
            map_year=lay.get("map_year"),
        )
    for role, key in data.get("roles", {}).items():
        if key not in layers:
            raise ConfigError(f"{where}: role {role!r} names unknown layer {key!r}.")
    return Product(
        name=data["name"],
        title=data.get("title", name),
        citation=data.get("citation", ""),
        url=data.get("url", ""),
        notes=data.get("notes", ""),
        layers=layers,
        roles=dict(data.get("roles", {})),
    )


@cache
def _registry() -> dict[str, Product]:
    folder = resources.files("soilmap.soc").joinpath("presets")
    out = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            name = item.name[: -len(".toml")]
            out[name] = _load(name, item.read_text(encoding="utf-8"))
    return out


def list_products() -> tuple[str, ...]:
    """Names of the product presets (``"gsocseq"``, ``"soilgrids2"`` …)."""
    return tuple(_registry())


def get_product(name: str) -> Product:
    """The preset of a product.

    Raises
    ------
    soilmap.errors.UnitsError
        Unknown product name (the message lists the known ones).
    """
    reg = _registry()
    if name not in reg:
        raise UnitsError(
            f"unknown product {name!r}. Known products: {', '.join(reg)}. Without a product, "
            "declare the units yourself (--soc-units, or units = '...' in [soc])."
        )
    return reg[name]


def get_layer(product: str, layer: str) -> LayerSpec:
    """A layer of a product by name (case-insensitive when unambiguous)."""
    p = get_product(product)
    if layer in p.layers:
        return p.layers[layer]
    folded = {k.lower(): v for k, v in p.layers.items()}
    if layer.lower() in folded:
        return folded[layer.lower()]
    raise UnitsError(
        f"product {product!r} has no layer {layer!r}; its layers: {', '.join(p.layers)}."
    )


def _stem(path: str | os.PathLike) -> str:
    name = Path(path).name
    for suffix in (".tif", ".tiff", ".vrt", ".TIF", ".TIFF", ".nc", ".img"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def _match(spec: LayerSpec, stem: str) -> LayerMatch | None:
    for pattern in spec.patterns:
        m = re.search(pattern, stem)
        if m is None:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        depth = spec.depth_cm
        if "slot" in groups and spec.slot_depths_cm:
            depth = spec.slot_depths_cm[int(groups["slot"]) - 1]
        elif "bottom" in groups:
            depth = (float(groups.get("top", 0)), float(groups["bottom"]))
        stat = _STATISTICS.get(groups.get("stat", ""), spec.statistic)
        return LayerMatch(
            layer=spec, depth=depth, statistic=stat, scenario=groups.get("scenario"), source=stem
        )
    return None


def recognise(path: str | os.PathLike, *, product: str | None = None) -> LayerMatch | None:
    """Recognise a product layer from a typical file name, or return None.

    Parameters
    ----------
    path : path-like
        File path or name, e.g. ``"BT-GSNM-CORG-2024-0-30-MEAN.tif"``.
    product : str, optional
        Only look at this product's layers.

    Examples
    --------
    >>> recognise("BT-GSNM-CORG-2024-0-30-MEAN.tif").describe()
    'gsnmap CORG 0-30 cm (mean), %'
    >>> recognise("my_soc_map.tif") is None
    True
    """
    stem = _stem(path)
    products = [get_product(product)] if product else list(_registry().values())
    for p in products:
        for spec in p.layers.values():
            m = _match(spec, stem)
            if m is not None:
                return m
    return None


def identify(
    path: str | os.PathLike,
    *,
    product: str,
    role: str,
    layer: str | None = None,
) -> LayerMatch | None:
    """Which layer of ``product`` a file is, for an input ``role``.

    The layer is ``layer`` if given, else the one the file name matches, else the
    product's default layer for the role (depth then unknown unless fixed), else None
    (the product has nothing for this role: the caller needs units from elsewhere).

    Raises
    ------
    soilmap.errors.UnitsError
        If the file name says it is a layer that cannot play ``role`` (a bulk-density
        file given as carbon content).
    """
    want = ROLE_QUANTITY.get(role)
    if layer is not None:
        spec = get_layer(product, layer)
        found = _match(spec, _stem(path))
        match = found or LayerMatch(layer=spec, depth=spec.depth_cm, statistic=spec.statistic)
    else:
        found = recognise(path, product=product)
        default = get_product(product).layer_for_role(role)
        if found is not None:
            match = found
        elif default is not None:
            match = LayerMatch(layer=default, depth=default.depth_cm, statistic=default.statistic)
        else:
            return None
    if want is not None and match.layer.quantity != want:
        raise UnitsError(
            f"{path} looks like {match.describe()} — a "
            f"{match.layer.quantity.replace('_', ' ')} — but it was given as the "
            f"{role.replace('_', ' ')} (a {want.replace('_', ' ')}, e.g. {CANONICAL[want]!r}). "
            "Check which file goes where."
        )
    return match


# ------------------------------------------------------------------ opening a layer


@dataclass
class OpenedLayer:
    """A raster opened with its units and cleaning rules (from a preset or the user).

    Attributes
    ----------
    role : str
        What the layer is for (``"stock"``, ``"content"`` …).
    path : pathlib.Path
    units : str
        Units of the stored values (declared by the user, the preset or the file).
    quantity : str
    match : LayerMatch or None
        What the product preset says the file is.
    rules : tuple of Rule
        Rules applied (also to the plausibility sample).
    cleaned : soilmap.soc.cleaning.Cleaned
        The lazy cleaned layer (in ``units``), its lazy counts and report.
    """

    role: str
    path: Path
    units: str
    quantity: str
    match: LayerMatch | None
    rules: tuple[Rule, ...]
    cleaned: Cleaned

    @property
    def data(self) -> Any:
        """The cleaned layer (``xarray.DataArray``)."""
        return self.cleaned.data

    def label(self) -> str:
        """File stem and what it was recognised as."""
        what = self.match.describe(units=False) if self.match else self.role.replace("_", " ")
        return f"{self.path.stem} ({what})"

    def source(self) -> dict[str, Any]:
        """Plain data for ``run.json``."""
        return {
            "path": str(self.path),
            "units": self.units,
            "recognised_as": self.match.describe() if self.match else None,
        }


def _no_units(path: Path, role: str, product: str | None) -> UnitsError:
    guess = recognise(path)
    if guess:
        hint = (
            f" The file name looks like {guess.describe()}: product = {guess.layer.product!r} "
            "would apply that preset's units and cleaning rules."
        )
    else:
        hint = f" Product presets: {', '.join(list_products())}."
    preset = f"product {product!r} has no such layer" if product else "no product preset was given"
    return UnitsError(
        f"{role.replace('_', ' ')} {str(path)!r} does not state its units and {preset}. "
        f"Declare them: {FIX_UNITS.get(role, 'units = ...')}.{hint}"
    )


def open_layer(
    path: str | os.PathLike,
    *,
    role: str,
    product: str | None = None,
    layer: str | None = None,
    units: str | None = None,
    product_rules: bool = True,
    extra_rules: tuple[Rule, ...] | list[Rule] = (),
    chunks: ChunkSpec = None,
    assumptions: list[str] | None = None,
) -> OpenedLayer:
    """Open a raster lazily with its units and cleaning rules; nothing is computed.

    Units: ``units`` (the user's), else the ``product`` preset's, else the file's own
    unit tag, else :class:`~soilmap.errors.UnitsError` saying how to declare them.

    Parameters
    ----------
    path : path-like
    role : str
        ``"stock"``, ``"content"``, ``"bulk_density"``, ``"coarse_fragments"``,
        ``"lower"``, ``"upper"``, ``"sd"`` or ``"relative_uncertainty"``.
    product, layer : str, optional
        Product preset and (if the file name does not say) its layer.
    units : str, optional
        Declared units; override the preset (recorded in ``assumptions``).
    product_rules : bool
        Apply the preset's sentinels and ranges.
    extra_rules : sequence of Rule
        Further rules (user sentinels, ranges).
    chunks : (int, int) or int, optional
        Chunk shape, or cells per chunk (see :func:`soilmap.io.raster.open_raster`).
    assumptions : list of str, optional
        Appended to when the user's units replace the preset's.

    Returns
    -------
    OpenedLayer
    """
    p = Path(path)
    quantity = ROLE_QUANTITY[role]
    match = identify(p, product=product, role=role, layer=layer) if product else None
    declared = units or (match.units if match else None)
    if declared is None:
        declared = read_layout(p, what=role.replace("_", " ")).units
    if declared is None:
        raise _no_units(p, role, product)
    parse_unit(declared, quantity=quantity, what=f"{role.replace('_', ' ')} {str(p)!r}")
    if match is not None and units is not None and units != match.units and assumptions is not None:
        assumptions.append(
            f"{p.name}: units {units!r} declared by the user replace the "
            f"{match.layer.product} preset's {match.units!r}"
        )
    rules = [*(match.rules if (match and product_rules) else ()), *extra_rules]
    da = open_raster(
        p, units=declared, chunks=chunks, what=role.replace("_", " "), long_name=p.stem
    )
    cleaned = apply_rules(da, rules, key_prefix=f"{role}:{p.stem}")
    if match is not None and match.layer.scale != 1.0:
        scaled = (cleaned.data * match.layer.scale).astype("float32")
        scaled.attrs = dict(cleaned.data.attrs)
        cleaned.data = append_history(
            scaled, f"scale x {match.layer.scale:g} ({match.layer.label})"
        )
    return OpenedLayer(role, p, declared, quantity, match, tuple(rules), cleaned)
