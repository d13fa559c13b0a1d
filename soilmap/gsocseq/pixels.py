"""Per-pixel 4 ‰ target, the share of it each GSOCseq scenario attains, identity checks.

Everything here stays lazy (see :mod:`soilmap.gsocseq`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from soilmap.errors import InputError
from soilmap.gsocseq.discover import _LONG, RATE_UNITS, STOCK_UNITS, GsocseqLayers
from soilmap.meta import with_units

#: Years between T0 and the final SOC in GSOCseq.
GSOCSEQ_YEARS = 20
#: Largest |ASR × 20 − (finalSOC − T0)| float32 storage explains (t C ha-1): the three
#: values are rounded apart, ≤ 20·ulp(4)/2 + 2·ulp(800)/2 ≈ 6.6e-5 for stocks ≤ 800.
IDENTITY_TOLERANCE = 1e-4


def _check_parameters(rate: float, period_years: float) -> None:
    if not (np.isfinite(rate) and 0 < rate < 1):
        raise InputError(
            f"rate must be a relative annual growth between 0 and 1 (0.004 for 4 per 1000), "
            f"not {rate!r}."
        )
    if not (np.isfinite(period_years) and period_years > 0):
        raise InputError(f"period_years must be positive (GSOCseq: 20), not {period_years!r}.")


def _relative_rate(layers: GsocseqLayers, sc: str, period_years: float) -> xr.DataArray | None:
    if sc in layers.rsr:
        out = layers.rsr[sc].copy()
        out.attrs["source"] = str(layers.files[f"RSR_{sc}"])
        return out
    if sc not in layers.final_soc or "BAU" not in layers.final_soc:
        return None
    # No plausibility rule on derived values: -1e-6 from two equal stocks rounded
    # apart is a real zero, not an error.
    step = f"RSR_{sc} = (finalSOC_{sc} - finalSOC_BAU) / {period_years:g}"
    diff = (layers.final_soc[sc] - layers.final_soc["BAU"]) / period_years
    out = with_units(diff, RATE_UNITS, step=step, long_name=_LONG["RSR"].format(sc=sc))
    out.attrs["source"] = f"derived: {step}"
    return out


def compare(
    layers: GsocseqLayers, *, rate: float = 0.004, period_years: float = GSOCSEQ_YEARS
) -> dict[str, xr.DataArray]:
    """Per-pixel 4 ‰ target and the share of it each modelled scenario attains, lazily.

    Parameters
    ----------
    layers : GsocseqLayers
        From :func:`discover_gsocseq`.
    rate : float
        Relative annual stock growth the target asks for (0.004 = 4 ‰ yr-1).
    period_years : float
        Years between T0 and the final SOC (20 in GSOCseq), to derive RSR.

    Returns
    -------
    dict of str to xarray.DataArray
        ``target_rate`` (``rate × T0``, t C ha-1 yr-1); per scenario X ``asr_X`` (as
        read, t C ha-1 yr-1) and ``share_X`` (``asr_X / target_rate``, 1, NaN where
        T0 = 0); per SSM scenario ``rsr_X`` (t C ha-1 yr-1) from the RSR file, else
        ``(finalSOC_X − finalSOC_BAU) / period_years`` when both stocks exist, and
        ``additional_share_of_target_X`` (``(ASR_X − ASR_BAU) / target_rate``, 1) when
        BAU is there.
    """
    _check_parameters(rate, period_years)
    t0 = layers.t0
    per_mille = f"{rate * 1000:g} per 1000"
    target = with_units(
        t0 * np.float32(rate),
        RATE_UNITS,
        step=f"target_rate = {rate:g} x T0",
        long_name=f"{per_mille} target sequestration rate",
    )
    out = {"target_rate": target}
    # A zero stock has no 4 ‰ target: the share is undefined there, not infinite.
    denominator = target.where(t0 > 0)
    for sc in layers.scenarios:
        asr = layers.asr[sc]
        out[f"asr_{sc}"] = asr
        out[f"share_{sc}"] = with_units(
            asr / denominator,
            "1",
            step=f"share_{sc} = ASR_{sc} / ({rate:g} x T0)",
            long_name=f"share of the {per_mille} target attained by GSOCseq {sc}",
            history_from=asr,
        )
        rsr = _relative_rate(layers, sc, period_years) if sc != "BAU" else None
        if rsr is not None:
            out[f"rsr_{sc}"] = rsr
    if "BAU" in layers.scenarios:
        # What management adds to the business-as-usual trend, as a share of the target:
        # share_of_target counts the BAU trend as if it were management.
        bau = layers.asr["BAU"]
        for sc in layers.scenarios:
            if sc == "BAU":
                continue
            out[f"additional_share_of_target_{sc}"] = with_units(
                (layers.asr[sc] - bau) / denominator,
                "1",
                step=f"additional_share_of_target_{sc} = (ASR_{sc} - ASR_BAU) / ({rate:g} x T0)",
                long_name=f"share of the {per_mille} target added by GSOCseq {sc} over BAU",
                history_from=layers.asr[sc],
            )
    return out


def identity_errors(
    layers: GsocseqLayers, *, period_years: float = GSOCSEQ_YEARS
) -> dict[str, tuple[str, xr.DataArray]]:
    """Per-cell errors of GSOCseq's own identities on the cleaned layers, lazily.

    ``ASR_X × period = finalSOC_X − T0`` for each scenario with both layers, and
    ``RSR_X × period = finalSOC_X − finalSOC_BAU`` for each RSR file with both final
    stocks; ``|lhs − rhs|`` in float64 (t C ha-1), NaN where a term has no data.

    Returns
    -------
    dict
        By identity (``ASR_BAU``, ``RSR_SSM1`` ...): ``(text, error layer)``.
    """
    _check_parameters(0.004, period_years)
    p = f"{period_years:g}"
    t0, final = layers.t0.astype("float64"), layers.final_soc
    out = {}
    for sc in layers.scenarios:
        if sc in final:
            err = abs(layers.asr[sc].astype("float64") * period_years - (final[sc] - t0))
            out[f"ASR_{sc}"] = (f"ASR_{sc} x {p} = finalSOC_{sc} - T0", err)
    for sc, rsr in layers.rsr.items():
        if sc in final and "BAU" in final:
            rhs = final[sc].astype("float64") - final["BAU"]
            err = abs(rsr.astype("float64") * period_years - rhs)
            out[f"RSR_{sc}"] = (f"RSR_{sc} x {p} = finalSOC_{sc} - finalSOC_BAU", err)
    return out


def check_identities(
    layers: GsocseqLayers, *, period_years: float = GSOCSEQ_YEARS
) -> dict[str, dict[str, Any]]:
    """Lazy checks of GSOCseq's own identities on the cleaned layers.

    See :func:`identity_errors` for the identities.

    Returns
    -------
    dict
        By identity (``ASR_BAU``, ``RSR_SSM1`` ...): ``identity`` (text), ``units``
        (t C ha-1) and lazy 0-d dask arrays ``max_abs_error`` (0 without cells) and
        ``cells``.  Compute with ``dask.compute(result)``.
    """
    return {
        name: {
            "identity": text,
            "units": STOCK_UNITS,
            "max_abs_error": err.fillna(0.0).max().data,
            "cells": err.notnull().sum().data,
        }
        for name, (text, err) in identity_errors(layers, period_years=period_years).items()
    }
