"""Reading a TOML run configuration into a :class:`~soilmap.config.model.RunConfig`."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from soilmap.config.rothc import rothc_config
from soilmap.config.sections import (
    EXTENT_KEYS,
    LandcoverConfig,
    OutputConfig,
    RegionsConfig,
    extent_config,
)
from soilmap.config.values import check_section
from soilmap.errors import ConfigError, InputNotFoundError
from soilmap.io.paths import input_path
from soilmap.options import get_options
from soilmap.scenario.model import Saturation, Scenario, check_rate_slip
from soilmap.soc.spec import SocSpec

__all__ = ["read_fields", "run_fields"]


_SOC_KEYS = {
    "stock",
    "units",
    "product",
    "layer",
    "nodata",
    "sentinels",
    "valid_range",
    "rules",
    "product_rules",
    "lower",
    "upper",
    "sd",
    "z",
    "relative_uncertainty",
    "uncertainty_units",
    "unit_check",
    "sample_cells",
    "on_implausible",
    "top_cm",
    "bottom_cm",
    "uncertainty_aggregation",
}
_SOC_LAYER_KEYS = {
    "content",
    "content_units",
    "bulk_density",
    "bulk_density_units",
    "coarse_fragments",
    "coarse_fragments_units",
    "depths_cm",
    "kind",
    "top_cm",
    "bottom_cm",
}
_SCENARIO_KEYS = {
    "name",
    "rate",
    "start_year",
    "horizons",
    "growth",
    "eligible",
    "co2e_factor",
    "rate_raster",
    "saturation",
}
_SATURATION_KEYS = {
    "method",
    "intercept",
    "slope",
    "fine_fraction",
    "fine_fraction_definition",
    "fine_fraction_units",
    "stock",
    "stock_units",
    "citation",
    "fine_fraction_carbon_share",
    "fine_fraction_carbon_share_raster",
    "fine_fraction_carbon_share_units",
}


def _scenario(table: Any, base: Path, where: str) -> Scenario:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: [scenario] must be a table or an array of tables.")
    sc = _section({"scenario": table}, "scenario", _SCENARIO_KEYS, where)
    if "rate" in sc:
        check_rate_slip(sc["rate"], what=f"{where}: [scenario] rate")
    for key in ("horizons", "eligible"):
        if key in sc:
            sc[key] = tuple(sc[key])
    if "start_year" not in sc:
        sc["start_year_source"] = "default"  # the SOC map's year, when its preset knows it
    if "rate_raster" in sc:
        sc["rate_raster"] = input_path(sc["rate_raster"], base)
    if "saturation" in sc:
        sat = _section({"saturation": sc["saturation"]}, "saturation", _SATURATION_KEYS, where)
        if "fine_fraction" in sat:
            sat["fine_fraction"] = _paths(base, sat["fine_fraction"])
        if "stock" in sat:
            sat["stock"] = input_path(sat["stock"], base)
        if "fine_fraction_carbon_share_raster" in sat:
            sat["fine_fraction_carbon_share_raster"] = input_path(
                sat["fine_fraction_carbon_share_raster"], base
            )
        sc["saturation"] = Saturation(**sat)
    return Scenario(**sc)


def _section(data: Mapping[str, Any], name: str, allowed: set[str], where: str) -> dict:
    sec = data.get(name, {})
    if not isinstance(sec, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table.")
    unknown = set(sec) - allowed
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)} in [{name}]; allowed: {sorted(allowed)}."
        )
    check_section(sec, name, where=where)
    return dict(sec)


def _paths(base: Path, value: Any) -> tuple[Path, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    return tuple(input_path(str(v), base) for v in values)


_LANDCOVER_KEYS = {"path", "scheme", "unknown", "method", "exclude", "exclude_rasters"}
_REGIONS_KEYS = {
    "path",
    "id_field",
    "name_field",
    "layer",
    "crs",
    "invalid",
    "emissions_field",
    "duplicate_ids",
    "missing_ids",
}


def _landcover_config(data: Mapping[str, Any], base: Path, where: str) -> LandcoverConfig | None:
    """The ``[landcover]`` section, or None when the file has none."""
    lc = _section(data, "landcover", _LANDCOVER_KEYS, where)
    if not lc:
        return None
    if "path" not in lc or "scheme" not in lc:
        raise ConfigError(f"{where}: [landcover] needs path and scheme.")
    scheme = str(lc["scheme"])
    # A scheme that names a table file is relative to the config too.
    if Path(scheme).suffix.lower() in (".csv", ".yaml", ".yml"):
        scheme = str(base / scheme)
    return LandcoverConfig(
        path=input_path(lc["path"], base),
        scheme=scheme,
        unknown=lc.get("unknown", "error"),
        method=lc.get("method", "area"),
        exclude=_paths(base, lc["exclude"]) if "exclude" in lc else (),
        exclude_rasters=_paths(base, lc["exclude_rasters"]) if "exclude_rasters" in lc else (),
    )


def _declared_groups(
    data: Mapping[str, Any], lc: LandcoverConfig | None, where: str
) -> LandcoverConfig | None:
    """``[groups] custom = [...]``: the class table's custom groups declared on purpose."""
    if "groups" not in data:
        return lc
    custom = _section(data, "groups", {"custom"}, where).get("custom", [])
    if lc is None:
        raise ConfigError(
            f"{where}: [groups] declares custom land-use groups, but there is no [landcover] "
            "(no class table to define them). Add [landcover] or remove [groups]."
        )
    return replace(lc, groups=tuple(custom))


def _regions_config(data: Mapping[str, Any], base: Path, where: str) -> RegionsConfig | None:
    """The ``[regions]`` section, or None (a run over the whole extent) without one."""
    rg = _section(data, "regions", _REGIONS_KEYS, where)
    if "regions" not in data:
        return None
    if "path" not in rg or "id_field" not in rg:
        raise ConfigError(f"{where}: [regions] needs path and id_field.")
    return RegionsConfig(
        path=input_path(rg["path"], base),
        id_field=rg["id_field"],
        name_field=rg.get("name_field"),
        layer=rg.get("layer"),
        crs=rg.get("crs"),
        invalid=rg.get("invalid", "repair"),
        emissions_field=rg.get("emissions_field"),
        duplicate_ids=rg.get("duplicate_ids", "error"),
        missing_ids=rg.get("missing_ids", "error"),
    )


def run_fields(data: Mapping[str, Any], *, base: Path, where: str) -> dict[str, Any]:
    """The fields of a :class:`~soilmap.config.run.RunConfig` from parsed TOML.

    Paths are taken relative to ``base``; ``where`` names the file in messages.
    """
    top = set(data) - {
        "soc",
        "landcover",
        "regions",
        "scenario",
        "output",
        "run",
        "rothc",
        "groups",
    }
    if top:
        raise ConfigError(f"{where}: unknown section(s) {sorted(top)}.")
    soc = _section(data, "soc", _SOC_KEYS | {"layers"}, where)
    aggregation = soc.pop("uncertainty_aggregation", "correlated")
    layers = soc.pop("layers", {})
    if not isinstance(layers, Mapping) or set(layers) - _SOC_LAYER_KEYS:
        raise ConfigError(f"{where}: [soc.layers] allows {sorted(_SOC_LAYER_KEYS)}.")
    check_section(layers, "soc.layers", where=where)
    try:
        spec = {**soc, **layers}
        if "top_cm" in spec or "bottom_cm" in spec:
            spec["depth_declared"] = True
        for key in ("stock", "lower", "upper", "sd", "relative_uncertainty"):
            if key in spec:
                spec[key] = input_path(spec[key], base)
        for key in ("content", "bulk_density", "coarse_fragments"):
            if key in spec:
                spec[key] = _paths(base, spec[key])
        for key in ("sentinels", "valid_range"):
            if key in spec:
                spec[key] = tuple(spec[key])
        soc_cfg = SocSpec(**spec)
        lc_cfg = _landcover_config(data, base, where)
        lc_cfg = _declared_groups(data, lc_cfg, where)
        rg_cfg = _regions_config(data, base, where)
        raw = data.get("scenario", {})
        tables = raw if isinstance(raw, list) else [raw]
        scenarios = tuple(_scenario(t, base, where) for t in tables)
        out = _section(data, "output", {"dir", "overwrite", "compress"}, where)
        if "dir" not in out:
            raise ConfigError(f"{where}: [output] needs dir.")
        out_cfg = OutputConfig(
            dir=base / out["dir"],
            overwrite=bool(out.get("overwrite", False)),
            compress=out.get("compress", get_options()["compress"]),
        )
        run = _section(
            data, "run", {"chunks", "scheduler", "workers", "memory_limit"} | EXTENT_KEYS, where
        )
        chunks = run.get("chunks")
        if isinstance(chunks, list):
            chunks = tuple(chunks)
    except (TypeError, ValueError, KeyError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: {exc}") from exc
    return dict(
        soc=soc_cfg,
        landcover=lc_cfg,
        regions=rg_cfg,
        scenarios=scenarios,
        output=out_cfg,
        chunks=chunks,
        scheduler=run.get("scheduler"),
        workers=run.get("workers"),
        memory_limit=run.get("memory_limit"),
        extent=extent_config(run, where),
        uncertainty_aggregation=aggregation,
        rothc=rothc_config(data, base, where),
    )


def read_fields(path: str | os.PathLike) -> dict[str, Any]:
    """The fields of the run a TOML file describes (``source`` included).

    Raises
    ------
    soilmap.errors.InputNotFoundError
        The file does not exist.
    soilmap.errors.ConfigError
        The file is not valid TOML or not a valid run description.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"config file {str(p)!r} does not exist.")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc}).") from exc
    return run_fields(data, base=p.resolve().parent, where=str(p)) | {"source": p.resolve()}
