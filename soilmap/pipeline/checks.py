"""The checks of a run's computed numbers, before anything is moved into the output folder.

:func:`value_checks` is called by :func:`soilmap.pipeline.run.run` once the single pass
over the data is done: it takes the verdict on the range checks of every SOC input
(:func:`soilmap.soc.verdict.judge`: stop with the fix, or drop and count), refuses a run
whose regions hold no valid SOC cell, and gathers what the console and ``run.json``
report: the cells each cleaning rule removed, the exact zeros per land-use group, and
for each scenario its eligible area, the eligible groups that no cell has, and the
share of each region with SOC data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from soilmap.blockstats import BlockStats
from soilmap.errors import ConfigError, NoValidDataError
from soilmap.landuse.groups import check_names, suggest
from soilmap.landuse.table import DEFAULT_ELIGIBLE
from soilmap.scenario.organic import organic_reductions, organic_summary
from soilmap.soc.ranges import zero_reductions
from soilmap.soc.verdict import judge, raise_early

if TYPE_CHECKING:
    from soilmap.pipeline.plan import Plan

log = logging.getLogger("soilmap.pipeline")

__all__ = ["check_reductions", "value_checks"]


def check_reductions(p: Plan) -> list[BlockStats]:
    """The per-chunk statistics the checks need, computed in the run's single pass.

    The range checks of every SOC input, the exact-zero stock cells per land-use
    group and the likely organic soils (eligible groups that no cell has are read
    from the zonal table).

    Raises
    ------
    soilmap.errors.ImplausibleValuesError
        When the pre-run samples already showed implausible cells: before the pass.
    """
    _check_group_names(p)
    if p.soc is None:
        return []
    raise_early([m for m in p.soc.sample_failures if m])
    out = p.soc.value_stats()
    if p.table is not None:
        out.append(zero_reductions(p.stock, p.fractions))
    out.append(organic_reductions(p.stock, p.fractions, p.area_ha))
    return out


def _check_group_names(p: Plan) -> None:
    """Every ``eligible`` entry and per-group rate key names a group of the run."""
    if p.table is None:
        return
    groups = list(p.table.group_names())
    lc = p.config.landcover
    where = str(p.config.source) if p.config.source else "the run config"
    for g in lc.groups if lc is not None else ():
        # A declaration that matches nothing is a typo of its own (or the wrong table).
        if g not in groups:
            close = suggest(g, groups)
            hint = f" Did you mean {close!r}?" if close else ""
            raise ConfigError(
                f"{where}: [groups] custom declares {g!r}, but the class table "
                f"{p.table.source!r} has no such group.{hint} Its groups: "
                f"{', '.join(groups)}. Remove it from [groups] custom or fix the spelling."
            )
    for sc in p.config.scenarios:
        check_names(
            sc.eligible,
            groups,
            what=f"scenario {sc.name!r}: eligible",
            fix="eligible = [...] in [scenario], or --eligible",
        )
        if isinstance(sc.rate, Mapping):
            check_names(
                sc.rate,
                groups,
                what=f"scenario {sc.name!r}: rate",
                fix="the keys of rate = {...} in [scenario]",
            )


def _cleaning(soc_report: Mapping[str, Any] | None) -> dict[str, int]:
    """Cells removed per cleaning rule, ``"<layer>:<rule>"``."""
    out: dict[str, int] = {}
    for layer in (soc_report or {}).get("cleaning", []):
        for rule in layer["rules"]:
            out[f"{layer['layer']}:{rule['rule']}"] = int(rule["cells_removed"])
    return out


def _scenarios(p: Plan, table: pd.DataFrame, removed: Mapping[str, int]) -> list[dict[str, Any]]:
    """Per scenario: eligible area, absent eligible groups, SOC data share per region.

    ``removed`` (cells each cleaning rule removed from the SOC input) is repeated in
    every scenario's entry: the scenarios share the input, so they share the counts.
    """
    out = []
    for sc in p.config.scenarios:
        rows = table[table["scenario"] == sc.name] if "scenario" in table else table
        groups = rows[rows["landuse"] != "all"]
        eligible = groups[groups["eligible"]]
        label = "all" if (rows["landuse"] == "all").any() else groups["landuse"].iloc[0]
        per_region = rows[rows["landuse"] == label]
        # A group with no area in the table: no cell of the land cover (with SOC data).
        area = groups.groupby("landuse")["area_ha"].sum()
        absent = [g for g in sc.eligible if p.table is not None and not area.get(g, 0.0) > 0]
        out.append(
            {
                "scenario": sc.name,
                "eligible_area_ha": float(eligible["area_ha"].sum()),
                "eligible_groups_absent": absent,
                "regions_share_with_soc_data": {
                    str(rid): (None if share != share else float(share))
                    for rid, share in zip(
                        per_region["region_id"], per_region["covered_share"], strict=True
                    )
                },
                "cells_removed_by_rule": dict(removed),
            }
        )
    return out


def value_checks(p: Plan, reduced: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Judge the computed numbers of a run; what ``run.json`` and the console report.

    Raises
    ------
    soilmap.errors.ImplausibleValuesError
        SOC cells outside their plausible range with ``on_implausible = "error"``.
    soilmap.errors.NoValidDataError
        No valid SOC cell at all, or none inside the regions.
    """
    if p.soc is None:
        return {}
    ranges = judge(
        p.soc.range_checks,
        reduced,
        on_implausible=p.soc.on_implausible,
        valid_cells=reduced.get("stock:valid_cells"),
    )
    all_rows = table[table["landuse"] == "all"] if (table["landuse"] == "all").any() else table
    if float(all_rows["area_ha"].sum()) == 0.0:
        rc = p.config.regions
        where = f"the regions of {str(rc.path)!r}" if rc is not None else "the run's extent"
        raise NoValidDataError(
            f"{where} hold(s) no valid SOC cell: the SOC data and the regions do not overlap "
            "where the SOC has values. Check that the regions (or --bbox) and the SOC raster "
            "cover the same area. Nothing was written."
        )
    zeros = {k.split(":", 1)[1]: float(v) for k, v in reduced.items() if k.startswith("zeros:")}
    eligible = {g for sc in p.config.scenarios for g in sc.eligible}
    on_eligible = {g: n for g, n in zeros.items() if g in eligible and n > 0}
    cleaning = _cleaning(p.soc.report(_counts(reduced)))
    removed = {
        **cleaning,
        **{
            f"{r['layer']}:implausible (on_implausible = 'drop')": int(r["cells_outside_range"])
            for r in ranges
            if r["action"] == "dropped"
        },
    }
    out: dict[str, Any] = {
        "on_implausible": p.soc.on_implausible,
        "ranges": ranges,
        "cells_dropped_as_implausible": sum(
            r["cells_outside_range"] for r in ranges if r["action"] == "dropped"
        ),
        "cleaning_cells_removed": cleaning,
        "zero_stock_cells_by_group": zeros,
        "scenarios": _scenarios(p, table, removed),
        "likely_organic_soils": organic_summary(
            dict(reduced), eligible, p.stock.attrs.get("depth_range_cm")
        ),
        "warnings": [],
    }
    organic = out["likely_organic_soils"]
    if organic["counted"] and organic["cells"]:
        out["warnings"].append(
            f"{organic['cells']:,} cells ({organic['eligible_area_ha']:,.0f} ha of eligible land) "
            f"have a 0-30 cm stock above {organic['threshold_t_c_per_ha_0_30cm']:g} t C/ha: "
            "likely organic soils (peat), which the 4 per 1000 target for mineral soils does "
            "not fit. Exclude them with a peat mask (exclude / exclude_rasters in [landcover])."
        )
    if on_eligible:
        out["warnings"].append(
            "exact zeros on eligible land ("
            + ", ".join(f"{g}: {n:,.0f} cells" for g, n in on_eligible.items())
            + "): likely an undeclared nodata value. If 0 means no data in this file, declare "
            "it (sentinels = [0] in [soc]); bare rock or failed model cells may be real zeros."
        )
    defaults = {sc.name for sc in p.config.scenarios if sc.eligible == DEFAULT_ELIGIBLE}
    for s in out["scenarios"]:
        # The default list names groups many tables lack: said in run.json, not warned.
        if s["eligible_groups_absent"] and s["scenario"] not in defaults:
            out["warnings"].append(
                f"scenario {s['scenario']!r}: no cell of the land cover with SOC data is in "
                f"eligible group(s) {', '.join(s['eligible_groups_absent'])}."
            )
    for r in ranges:
        if r["action"] == "dropped":
            out["warnings"].append(
                f"{r['layer']}: {r['cells_outside_range']} cells outside {r['plausible_range']} "
                "were dropped (on_implausible = 'drop')."
            )
    for w in out["warnings"]:
        log.warning(w)
    return out


def _counts(reduced: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaning counts among the reductions (the keys :meth:`SocInputs.report` reads)."""
    skip = ("range:", "zeros:", "landuse:", "organic:")
    return {k: v for k, v in reduced.items() if not k.startswith(skip)}
