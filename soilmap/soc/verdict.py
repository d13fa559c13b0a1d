"""The verdict on implausible values: stop with the fix, or drop and count.

Two moments: on the bounded sample read before the run (:func:`check_sample_range`,
fails early when the sample already shows implausible cells), and on the counts of
every cell computed with the outputs (:func:`judge`, called before the staging
folder is moved into place, so a failing run leaves nothing in the output folder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from soilmap.errors import ImplausibleValuesError, NoValidDataError
from soilmap.soc.products import OpenedLayer
from soilmap.soc.ranges import HUGE, SENTINELS, RangeCheck, plausible_range

__all__ = ["check_sample_range", "fix_text", "judge", "raise_early"]


def raise_early(messages: Sequence[str]) -> None:
    """Stop a run before its pass when the samples already showed implausible cells.

    Raises
    ------
    soilmap.errors.ImplausibleValuesError
        If there is any message.
    """
    if messages:
        raise ImplausibleValuesError("\n".join(messages))


def fix_text(units: str, limits: tuple[float, float], sentinels: Sequence[float]) -> str:
    """How to declare the rule that removes these cells, in words."""
    declare = (
        f"declare the sentinel (sentinels = [{', '.join(f'{v:g}' for v in sentinels)}] in [soc])"
        if sentinels
        else "declare the nodata codes (sentinels = [...] in [soc])"
    )
    return (
        f"Fix: {declare}, a plausible range (valid_range = [{limits[0]:g}, {limits[1]:g}] in "
        f"[soc], in {units}), or the product preset (product = '...'; `soilmap data` and the "
        'README list them); or set on_implausible = "drop" in [soc] (--on-implausible drop) '
        "to remove these cells (they are counted in run.json and on the console). Nothing "
        "was written."
    )


def _sentinels_in(values: Sequence[float]) -> list[float]:
    """Which of ``values`` are well-known sentinels (kept in order, unique)."""
    out: list[float] = []
    for v in values:
        if (v in SENTINELS or abs(v) >= HUGE) and v not in out:
            out.append(float(v))
    return out


def check_sample_range(
    o: OpenedLayer,
    sample: np.ndarray,
    on_implausible: str,
    how: str,
    depth: tuple[float, float] | None = None,
) -> str | None:
    """What the pre-run sample of ``o`` already shows of implausible cells (None: nothing).

    The sample has the sentinel rules applied; the declared range rules are applied
    here too, so only cells no declared rule removes count.  A run stops with this
    message before its pass over the data (:func:`raise_early`); opening the input
    alone (a notebook) does not.
    """
    if on_implausible != "error":
        return None
    values = np.asarray(sample, dtype="float64")
    da = xr.DataArray(values, dims="cell", attrs={"units": o.units})
    for rule in o.rules:
        if rule.kind == "range":
            values = np.where(rule.removes(da).to_numpy(), np.nan, values)
    lo, hi, words = plausible_range(o.quantity, o.units, depth_cm=depth)
    with np.errstate(invalid="ignore"):
        bad = values[(values < lo) | (values > hi)]
    if bad.size == 0:
        return None
    shown = np.unique(bad)
    fix = fix_text(o.units, (lo, hi), _sentinels_in(shown.tolist()))
    examples = ", ".join(f"{v:g}" for v in shown[:5]) + (" ..." if shown.size > 5 else "")
    return (
        f"{o.role.replace('_', ' ')} {str(o.path)!r}: {bad.size} of {np.isfinite(values).sum()} "
        f"valid cells of the sample read before the run ({how}) are outside the plausible "
        f"range {words}; values: {examples}. These are undeclared nodata codes or outliers "
        f"that would distort every total. {fix}"
    )


def _message(rc: RangeCheck, c: Mapping[str, Any]) -> str:
    lo, hi = c["lowest_outside"], c["highest_outside"]
    sentinels = _sentinels_in([lo, hi])
    n_s = c["cells_equal_to_sentinels"]
    sent = f"; {n_s} of them equal well-known nodata codes" if n_s else ""
    where = (
        f"at {c['first_location']}"
        if c["cells_outside_range"] == 1
        else f"first at {c['first_location']}, last at {c['last_location']}"
    )
    return (
        f"{rc.what}: {c['cells_outside_range']} cells are outside the plausible range "
        f"{rc.describe}: values from {lo:g} to {hi:g} {rc.units}{sent}; {where}. "
        f"{fix_text(rc.units, rc.limits, sentinels)}"
    )


def judge(
    checks: Sequence[RangeCheck],
    reduced: Mapping[str, Any],
    *,
    on_implausible: str,
    valid_cells: int | None = None,
) -> list[dict[str, Any]]:
    """The verdict on the counts computed with the outputs.

    Parameters
    ----------
    checks : sequence of RangeCheck
    reduced : mapping
        The computed reductions (:attr:`soilmap.pipeline.execute.Executed.reduced`).
    on_implausible : {"error", "drop"}
    valid_cells : int, optional
        Valid stock cells after every rule; 0 is an error.

    Returns
    -------
    list of dict
        Per layer: the range, cells outside it, sentinels among them, exact zeros,
        examples, and ``"action"`` (``"none"`` or ``"dropped"``).

    Raises
    ------
    soilmap.errors.ImplausibleValuesError
        Cells outside their range with ``on_implausible="error"``.
    soilmap.errors.NoValidDataError
        No valid stock cell at all.
    """
    out = []
    messages = []
    for rc in checks:
        c = rc.counts(dict(reduced))
        if c["cells_outside_range"]:
            messages.append(_message(rc, c))
            c["action"] = "dropped" if on_implausible == "drop" else "stopped"
        else:
            c["action"] = "none"
        out.append(c)
    if messages and on_implausible == "error":
        raise ImplausibleValuesError("\n".join(messages))
    if valid_cells == 0:
        dropped = sum(c["cells_outside_range"] for c in out)
        why = f" ({dropped} cells were dropped as implausible)" if dropped else ""
        raise NoValidDataError(
            f"the SOC stock has no valid cell{why}: every cell is nodata or removed by a "
            "cleaning rule. Check the nodata declaration, sentinels and valid_range, and "
            "that the right file was given. Nothing was written."
        )
    return out
