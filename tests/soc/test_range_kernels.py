"""The range check's block kernels equal a plain whole-array numpy reference, on any chunking.

The kernels skip clean blocks (min/max first) and return zero-stride identities: every
shortcut must give the counts, extremes, locations, kept values and zero shares that
the direct formulas give on the whole array, whatever the blocks hold (all NaN, only
zeros, ±inf, float32's -3.4e38, sentinels) and wherever the chunk edges fall.
"""

from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soilmap.soc._range_kernels import cell_layer, kept_layer, zero_share
from soilmap.soc.ranges import HUGE, SENTINELS

LO, HI = 0.0, 800.0
SPECIAL = [np.nan, 0.0, -999.0, -9999.0, 65535.0, 5e9, -3.4e38, np.inf, -np.inf, 800.0, -0.5]


def _reference(x: np.ndarray) -> dict[str, float]:
    with np.errstate(invalid="ignore"):
        bad = (x < LO) | (x > HI)
    flat = np.flatnonzero(bad)
    v = x[bad]
    return {
        "outside": int(bad.sum()),
        "sentinel": int((np.isin(v, SENTINELS) | (np.abs(v) >= HUGE)).sum()),
        "zero": int((x == 0).sum()),
        "min": float(v.min()) if v.size else np.nan,
        "max": float(v.max()) if v.size else np.nan,
        "first": float(flat[0]) if flat.size else np.nan,
        "last": float(flat[-1]) if flat.size else np.nan,
    }


def _kernels(x: np.ndarray, chunks: tuple[int, int]) -> dict[str, float]:
    d = dsa.from_array(x, chunks=chunks)
    layer = {
        s: cell_layer(d, s, lo=LO, hi=HI, sentinels=SENTINELS, huge=HUGE)
        for s in ("outside", "sentinel", "zero", "value", "index")
    }
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # nanmin of a clean layer (all NaN) warns: expected
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "outside": int(layer["outside"].sum().compute()),
            "sentinel": int(layer["sentinel"].sum().compute()),
            "zero": int(layer["zero"].sum().compute()),
            "min": float(dsa.nanmin(layer["value"]).compute()),
            "max": float(dsa.nanmax(layer["value"]).compute()),
            "first": float(dsa.nanmin(layer["index"]).compute()),
            "last": float(dsa.nanmax(layer["index"]).compute()),
        }


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 9), st.integers(1, 11)),
    chunks=st.tuples(st.integers(1, 4), st.integers(1, 5)),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(["float32", "float64"]),
    special_share=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
)
def test_kernels_equal_the_whole_array_reference(shape, chunks, seed, dtype, special_share):
    rng = np.random.default_rng(seed)
    x = rng.uniform(1, 700, shape)
    hit = rng.random(shape) < special_share
    x[hit] = rng.choice(SPECIAL, int(hit.sum()))
    x = x.astype(dtype)
    ref, got = _reference(x), _kernels(x, chunks)
    np.testing.assert_equal(got, ref)
    kept = kept_layer(dsa.from_array(x, chunks=chunks), lo=LO, hi=HI).compute()
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(kept, np.where((x < LO) | (x > HI), np.nan, x))
    assert kept.dtype == x.dtype


@pytest.mark.parametrize("group_chunks", [1, 2, 3])
def test_zero_shares_on_any_group_chunking(group_chunks):
    rng = np.random.default_rng(7)
    stock = rng.choice([0.0, 10.0, np.nan], (7, 9))
    shares = rng.random((3, 7, 9)).astype("float32")
    s = dsa.from_array(stock, chunks=(3, 4))
    f = dsa.from_array(shares, chunks=(group_chunks, 3, 4))
    for g in range(3):
        got = zero_share(s, f, g).compute()
        np.testing.assert_array_equal(got, np.where(stock == 0, shares[g], 0))
        assert float(zero_share(s, f, g).sum().compute()) == pytest.approx(
            float(shares[g][stock == 0].sum()), rel=1e-6
        )
