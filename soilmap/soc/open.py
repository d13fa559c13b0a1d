"""Open the SOC input as it comes: any product, any unit, cleaned, checked, with bounds.

:func:`open_soc` turns a small :class:`SocSpec` (a stock raster, or carbon content,
bulk density and coarse fragments per layer; units or a product preset; sentinels and
range rules; optional uncertainty layers) into :class:`SocInputs`: a lazy stock in
t C ha-1, optional lower/upper bounds on the same grid, lazy counts of every cell the
cleaning rules removed or the bounds clipped, the list of unit conversions applied and
the assumptions made.  Only file headers and a bounded plausibility sample are read
(:mod:`soilmap.soc.plausibility`); everything else is one dask graph, so a pipeline that
computes the outputs and :attr:`SocInputs.counts` together reads each block once.

>>> spec = SocSpec(stock="BT-GSOCSEQ-CORGT0-2022-0-30-MEAN.tif", product="gsocseq")
>>> # soc = open_soc(spec); soc.stock, soc.counts, soc.report(computed_counts)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
import xarray as xr

from soilmap.grid import Grid, check_same_grid
from soilmap.io.env import gdal_env
from soilmap.io.paths import gdal_path
from soilmap.io.raster import ChunkSpec
from soilmap.meta import with_units
from soilmap.soc.cleaning import Rule, apply_rules
from soilmap.soc.depth import stock_depth
from soilmap.soc.plausibility import (
    PlausibilityResult,
    check_bounds,
    check_property_stock,
    check_sample,
    sample_layers,
)
from soilmap.soc.products import FIX_UNITS, LayerMatch, OpenedLayer, open_layer
from soilmap.soc.ranges import range_check
from soilmap.soc.spec import PropertyLayers, SocInputs, SocSpec
from soilmap.soc.stock import (
    depth_weights,
    layer_depths,
    order_by_depth,
    stock_bounds,
    stock_from_layers,
)
from soilmap.soc.verdict import check_sample_range
from soilmap.units import CANONICAL, conversion_factor, conversion_text, convert

__all__ = [
    "STOCK",
    "open_soc",
]

STOCK = CANONICAL["stock"]


# ----------------------------------------------------------------------------- opening


def _open(
    spec: SocSpec,
    role: str,
    path: Path,
    units: str | None,
    chunks: ChunkSpec,
    *,
    res: SocInputs,
    layer: str | None = None,
    extra_rules: Sequence[Rule] = (),
) -> OpenedLayer:
    rules = [*extra_rules]
    if spec.nodata is not None:
        rules.append(Rule.sentinel(spec.nodata, name="nodata", reason="declared by the user"))
    if spec.sentinels:
        rules.append(Rule.sentinel(*spec.sentinels, reason="declared by the user"))
    return open_layer(
        path,
        role=role,
        product=spec.product,
        layer=layer,
        units=units,
        product_rules=spec.product_rules,
        extra_rules=rules,
        chunks=chunks,
        assumptions=res.assumptions,
    )


def _sample(
    opened: Sequence[OpenedLayer], cells: int, window: tuple[int, int, int, int] | None = None
) -> tuple[list[np.ndarray], str]:
    """Bounded eager sample of each layer, cleaned by the same rules."""
    return sample_layers(
        [o.path for o in opened],
        units=[o.units for o in opened],
        rules=[o.rules for o in opened],
        scales=[o.match.layer.scale if o.match else 1.0 for o in opened],
        max_cells=cells,
        window=window,
    )


def _check(
    o: OpenedLayer, values: np.ndarray, spec: SocSpec, sample: str, depth: tuple | None = None
) -> PlausibilityResult:
    return check_sample(
        values,
        quantity=o.quantity,
        declared_units=o.units,
        what=f"{o.role.replace('_', ' ')} {o.path.name!r}",
        fix=FIX_UNITS[o.role],
        depth_cm=depth,
        mode=spec.unit_check,
        sample=sample,
    )


def _range_check(o: OpenedLayer, res: SocInputs, depth: tuple[float, float] | None = None) -> None:
    """Remove (and count, with the outputs) the cells of ``o`` outside their plausible range."""
    own = [
        v
        for r in (o.match.layer.rules if o.match else ())
        if r.kind == "sentinel"
        for v in r.values
    ]
    kept, rc = range_check(
        o.data,
        quantity=o.quantity,
        units=o.units,
        key=f"range:{o.role}:{o.path.stem}",
        what=f"{o.role.replace('_', ' ')} {str(o.path)!r}",
        depth_cm=depth,
        extra_sentinels=tuple(own),
    )
    rc.path = str(o.path)
    o.cleaned.data = kept
    res.range_checks.append(rc)


def _same_grid(ref: xr.DataArray, others: Sequence[OpenedLayer], ref_name: str) -> None:
    grid = Grid.from_dataarray(ref)
    for o in others:
        check_same_grid(
            grid,
            Grid.from_dataarray(o.data),
            what=f"{o.role} {str(o.path)!r}",
            reference_name=ref_name,
        )
        # Same grid within tolerance: share coordinates so xarray aligns exactly.
        o.cleaned.data = o.data.assign_coords(x=ref.x, y=ref.y)


def _stock_depth(
    spec: SocSpec, match: LayerMatch | None, o: OpenedLayer, res: SocInputs
) -> tuple[float, float]:
    declared = (float(spec.top_cm), float(spec.bottom_cm)) if spec.depth_declared else None
    preset = match.depth if match is not None and isinstance(match.depth, tuple) else None
    tags = {str(k): str(v) for k, v in o.data.attrs.items() if isinstance(v, str | int | float)}
    try:
        # The header only (for a remote file, already in GDAL's cache): dataset and band tags.
        with gdal_env(), rasterio.open(gdal_path(o.path)) as src:
            tags |= {**src.tags(), **src.tags(1)}
    except rasterio.errors.RasterioError:
        pass  # opened already by the door; tags are optional
    return stock_depth(
        o.path, declared=declared, preset=preset, tags=tags, assumptions=res.assumptions
    )


def _user_stock_rules(spec: SocSpec, units: str | None) -> list[Rule]:
    rules = list(spec.rules)
    if spec.valid_range is not None:
        lo, hi = spec.valid_range
        user = Rule.valid_range(
            lo, hi, units=units, name="user_range", reason="declared by the user"
        )
        rules.insert(0, user)
    return rules


def _open_stock_raster(
    spec: SocSpec, chunks: ChunkSpec, res: SocInputs
) -> tuple[OpenedLayer, tuple[float, float]]:
    assert spec.stock is not None
    o = _open(
        spec,
        "stock",
        spec.stock,
        spec.units,
        chunks,
        res=res,
        layer=spec.layer,
        extra_rules=_user_stock_rules(spec, None),
    )
    depth = _stock_depth(spec, o.match, o, res)
    res.conversions.append(f"{o.label()}: {conversion_text(o.units, STOCK)}")
    res.sources["stock"] = [o.source()]
    return o, depth


def _open_properties(spec: SocSpec, chunks: ChunkSpec, res: SocInputs) -> xr.DataArray:
    opened = {
        role: [
            _open(spec, role, p, getattr(spec, f"{role}_units"), chunks, res=res)
            for p in getattr(spec, role)
        ]
        for role in ("content", "bulk_density", "coarse_fragments")
    }
    content, bd, cf = opened["content"], opened["bulk_density"], opened["coarse_fragments"]
    depths, kind = layer_depths(
        [o.match.depth if o.match else None for o in content],
        spec.depths_cm,
        names=[o.path.name for o in content],
        kinds=[o.match.layer.depth_kind if o.match else None for o in content],
        kind=spec.kind,
    )
    top_down = list(range(len(depths)))
    if not spec.depths_cm:  # depths from the file names: put every group in depth order
        top_down = sorted(range(len(depths)), key=lambda i: depths[i])
        content[:], depths = [content[i] for i in top_down], [depths[i] for i in top_down]
        for group in (bd, cf):
            named = [o.match.depth if o.match else None for o in group]
            order = order_by_depth(named, depths, what=group[0].role) if group else None
            group[:] = [group[i] for i in order] if order else group
    depth_weights(depths, kind=kind, top=spec.top_cm, bottom=spec.bottom_cm)  # fail before reading
    _same_grid(content[0].data, [*content[1:], *bd, *cf], f"carbon layer {content[0].path.name!r}")
    all_layers = [*content, *bd, *cf]
    if spec.unit_check != "off":
        samples, how = _sample(all_layers, spec.sample_cells, spec.sample_window)
        got = dict(zip(map(id, all_layers), samples, strict=True))
        # Precise per-layer verdicts first, then the stock the sampled values give.
        res.checks += [_check(o, got[id(o)], spec, how) for o in [*bd, *cf, *content]]
        for o in all_layers:
            res.sample_failures.append(check_sample_range(o, got[id(o)], spec.on_implausible, how))
        vals = [[got[id(o)] for o in g] for g in (content, bd, cf)]
        res.checks.append(
            check_property_stock(
                vals[0],
                vals[1],
                vals[2] or None,
                units=tuple([o.units for o in g] for g in (content, bd, cf)),  # type: ignore[arg-type]
                depths_cm=depths,
                kind=kind,
                top=spec.top_cm,
                bottom=spec.bottom_cm,
                mode=spec.unit_check,
                sample=how,
            )
        )
    for o in all_layers:
        _range_check(o, res)
    stock = stock_from_layers(
        [o.data for o in content],
        [o.data for o in bd],
        depths,
        kind=kind,
        coarse_fragments=[o.data for o in cf] or None,
        top=spec.top_cm,
        bottom=spec.bottom_cm,
    )
    for o in all_layers:
        text = conversion_text(o.units, CANONICAL[o.quantity], quantity=o.quantity)
        res.conversions.append(f"{o.label()}: {text}")
    res.conversions.append(
        f"stock: Σ carbon (g kg-1) × bulk density (kg m-3) × (1 − coarse fragments) × "
        f"thickness (m) = g C m-2; {conversion_text('g C m-2', STOCK)}"
    )
    if stock.attrs.get("assumptions"):
        res.assumptions.extend(stock.attrs["assumptions"].split("; "))
    if cf:
        lost = None
        for c, b, f in zip(content, bd, cf, strict=True):
            hit = c.data.notnull() & b.data.notnull() & f.data.isnull()
            lost = hit if lost is None else lost | hit
        res.counts["stock:missing_coarse_fragments"] = lost.sum().data  # type: ignore[union-attr]
        res.count_masks["stock:missing_coarse_fragments"] = lost  # type: ignore[assignment]
        res.assumptions.append(
            "where coarse fragments are missing but carbon and bulk density are given, the "
            "stock is left missing (counted as stock:missing_coarse_fragments), not computed "
            "with 0 % fragments"
        )
    for key, group in opened.items():
        res.sources[key] = [o.source() for o in group]
    res.properties = PropertyLayers(
        bulk_density=tuple(o.data for o in bd),
        coarse_fragments=tuple(o.data for o in cf) or None,
        depths_cm=list(depths),
        kind=kind,
        top_cm=float(spec.top_cm),
        bottom_cm=float(spec.bottom_cm),
        order=tuple(top_down),
    )
    for o in all_layers:
        res.counts.update(o.cleaned.counts)
        res.count_masks.update(o.cleaned.masks)
        res.cleaning.append(o.cleaned.report)  # type: ignore[arg-type]
    return stock


# -------------------------------------------------------------------------------- bounds


def _bounds(
    spec: SocSpec,
    stock: xr.DataArray,
    stock_units: str | None,
    chunks: tuple[int, int] | int,
    res: SocInputs,
    stock_sample: np.ndarray | None,
) -> None:
    roles = [
        (role, getattr(spec, role))
        for role in ("lower", "upper", "sd", "relative_uncertainty")
        if getattr(spec, role) is not None
    ]
    if not roles:
        return
    opened = []
    for role, path in roles:
        # Bound and SD layers default to the stock's units; a relative uncertainty
        # has no such default (% or fraction): it comes from a preset or the user.
        units = spec.uncertainty_units or (None if role == "relative_uncertainty" else stock_units)
        sd_rule = Rule.valid_range(0, None, name="sd_min_0", reason="an SD is not negative")
        o = _open(
            spec,
            role,
            path,
            units,
            chunks,
            res=res,
            extra_rules=[sd_rule] if role == "sd" else [],
        )
        opened.append(o)
        target = "1" if role == "relative_uncertainty" else STOCK
        text = conversion_text(o.units, target, quantity=o.quantity)
        res.conversions.append(f"{o.label()}: {text}")
        res.sources[role] = [o.source()]
        res.counts.update(o.cleaned.counts)
        res.count_masks.update(o.cleaned.masks)
        res.cleaning.append(o.cleaned.report)  # type: ignore[arg-type]
    _same_grid(stock, opened, "the SOC stock")
    if stock_sample is not None and spec.lower is not None:
        _check_bounds_sample(spec, opened, stock_sample)
    conv = {
        o.role: convert(
            o.data, "1" if o.role == "relative_uncertainty" else STOCK, quantity=o.quantity
        )
        for o in opened
    }
    lower, upper, counts, method = stock_bounds(
        stock,
        lower=conv.get("lower"),
        upper=conv.get("upper"),
        sd=conv.get("sd"),
        z=spec.z,
        relative=conv.get("relative_uncertainty"),
        masks=res.count_masks,
    )
    res.counts.update(counts)
    step = f"bounds: {method}; clipped to 0 <= lower <= stock <= upper"
    depth = stock.attrs.get("depth_range_cm", "")
    for name, da in (("lower", lower), ("upper", upper)):
        out = with_units(
            da.astype("float32"),
            STOCK,
            step=step,
            history_from=stock,
            long_name=f"SOC stock {depth} cm, {name} bound",
        )
        out.name = f"soc_stock_{name}"
        setattr(res, name, out)
    res.uncertainty = {"method": method, "z": spec.z, "layers": [str(p) for _, p in roles]}


def _check_bounds_sample(
    spec: SocSpec, opened: list[OpenedLayer], stock_sample: np.ndarray
) -> None:
    samples, _ = _sample(opened, spec.sample_cells, spec.sample_window)
    medians = [
        (o.role, o.path.name, float(np.nanmedian(v)) * conversion_factor(o.units, STOCK))
        for o, v in zip(opened, samples, strict=True)
    ]
    check_bounds(float(np.nanmedian(stock_sample)), medians, mode=spec.unit_check)


# ---------------------------------------------------------------------------------- main


def open_soc(spec: SocSpec, *, chunks: ChunkSpec = None) -> SocInputs:
    """Open the SOC input described by ``spec``: lazy stock in t C ha-1, bounds, counts.

    Reads file headers and a bounded plausibility sample (eagerly); builds everything
    else as one dask graph.  A drop-in replacement for the pipeline's ``open_stock``:
    use :attr:`SocInputs.stock`, and compute :attr:`SocInputs.counts` with the outputs.

    Parameters
    ----------
    spec : SocSpec
    chunks : (int, int) or int, optional
        Chunk shape, or cells per chunk rounded to whole internal blocks; default whole
        internal blocks of the first file, and the same chunks for every other SOC layer.

    Returns
    -------
    SocInputs

    Raises
    ------
    soilmap.errors.UnitsError
        Units missing, unknown, of the wrong quantity, or implausible for the values.
    soilmap.errors.InputError
        Missing files, grids that differ, depths that do not cover the range.
    """
    res = SocInputs(stock=xr.DataArray(), on_implausible=spec.on_implausible)  # filled below
    stock_sample: np.ndarray | None = None
    stock_units: str | None = None
    if spec.stock is not None:
        o, depth = _open_stock_raster(spec, chunks, res)
        stock_units = o.units
        if spec.unit_check != "off":
            (values,), how = _sample([o], spec.sample_cells, spec.sample_window)
            res.checks.append(_check(o, values, spec, how, depth))
            res.sample_failures.append(
                check_sample_range(o, values, spec.on_implausible, how, depth)
            )
            stock_sample = values * conversion_factor(o.units, STOCK)
        _range_check(o, res, depth)
        stock = convert(o.data, STOCK, what=f"SOC stock {str(o.path)!r}", quantity="stock")
        res.counts.update(o.cleaned.counts)
        res.count_masks.update(o.cleaned.masks)
        res.cleaning.append(o.cleaned.report)  # type: ignore[arg-type]
    else:
        stock = _open_properties(spec, chunks, res)
        depth = (float(spec.top_cm), float(spec.bottom_cm))
        rules = _user_stock_rules(spec, STOCK)
        if rules:
            cleaned = apply_rules(stock, rules, key_prefix="stock:computed")
            stock = cleaned.data
            res.counts.update(cleaned.counts)
            res.count_masks.update(cleaned.masks)
            res.cleaning.append(cleaned.report)  # type: ignore[arg-type]
    stock = stock.astype("float32")
    res.assumptions = list(dict.fromkeys(a for a in res.assumptions if a))
    stock.attrs = {
        **stock.attrs,
        "units": STOCK,
        "long_name": f"SOC stock {depth[0]:g}-{depth[1]:g} cm",
        "depth_range_cm": f"{depth[0]:g}-{depth[1]:g}",
        "assumptions": "; ".join(res.assumptions),
    }
    stock.name = "soc_stock"
    res.counts["stock:valid_cells"] = stock.notnull().sum().data
    res.count_masks["stock:valid_cells"] = stock.notnull()
    res.stock = stock
    ychunks, xchunks = stock.chunks or ((stock.sizes["y"],), (stock.sizes["x"],))
    _bounds(spec, stock, stock_units, chunks or (ychunks[0], xchunks[0]), res, stock_sample)
    res.assumptions = list(dict.fromkeys(a for a in res.assumptions if a))
    res.stock.attrs["assumptions"] = "; ".join(res.assumptions)
    return res
