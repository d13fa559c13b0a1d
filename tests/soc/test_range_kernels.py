"""The range check's block kernels equal a plain whole-array numpy reference, on any chunking.

The kernels skip clean blocks (min/max first) and return one vector per chunk: every
shortcut must give the counts, extremes, locations, kept values and zero shares that
the direct formulas give on the whole array, whatever the blocks hold (all NaN, only
zeros, ±inf, float32's -3.4e38, sentinels), wherever the chunk edges fall and
whichever chunk-aligned windows the engine takes them in.
"""

from __future__ import annotations

import itertools
import warnings

import dask.array as dsa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soilmap.blockstats import combine
from soilmap.soc._range_kernels import kept_layer, range_stats, zero_stats
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


def _in_windows(bs, windows) -> dict[str, float]:
    """The statistics taken window by window and combined, as the engine does."""
    out: dict[str, float] = {}
    for w in windows:
        part = bs.reduce(bs.blocks(*w).compute())
        out = {
            k: combine(op, out[k], part[k]) if k in out else part[k]
            for k, op in zip(bs.keys, bs.ops, strict=True)
        }
    return out


def _kernels(x: np.ndarray, chunks: tuple[int, int]) -> dict[str, float]:
    d = dsa.from_array(x, chunks=chunks)
    bs = range_stats(d, key="k", lo=LO, hi=HI, sentinels=SENTINELS, huge=HUGE)
    rows, cols = np.cumsum((0, *d.chunks[0])), np.cumsum((0, *d.chunks[1]))
    # One window per chunk row, split at a middle chunk edge (as the engine's windows).
    mid = cols[len(cols) // 2]
    windows = [(int(a), int(b), 0, int(mid)) for a, b in itertools.pairwise(rows)]
    windows += [(int(a), int(b), int(mid), x.shape[1]) for a, b in itertools.pairwise(rows)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = _in_windows(bs, windows)
    return {
        k.split(":", 1)[1]: int(v)
        if k.split(":", 1)[1] in ("outside", "sentinel", "zero")
        else float(v)
        for k, v in got.items()
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
    shares[1, 0, 0] = np.nan  # a share without data is no share
    s = dsa.from_array(stock, chunks=(3, 4))
    f = dsa.from_array(shares, chunks=(group_chunks, 3, 4))
    bs = zero_stats(s, f, ["a", "b", "c"])
    got = _in_windows(bs, [(0, 3, 0, 9), (3, 7, 0, 4), (3, 7, 4, 9)])
    for g, name in enumerate("abc"):
        want = float(np.nansum(shares[g][stock == 0].astype("float64")))
        assert got[f"zeros:{name}"] == pytest.approx(want, rel=1e-12)


def test_flat_indices_of_a_cropped_layer_count_on_the_whole_grid():
    x = np.full((6, 8), 50.0)
    x[4, 7] = -999.0  # cell 4 * 8 + 7 = 39 of the whole grid
    crop = dsa.from_array(x, chunks=(2, 3))[3:6, 5:8]  # starts at row 3, col 5
    bs = range_stats(crop, key="k", lo=LO, hi=HI, width=8, origin=(3, 5))
    got = bs.reduce(bs.data.compute())
    assert (got["k:first"], got["k:last"], got["k:outside"]) == (39.0, 39.0, 1.0)


def test_a_window_off_the_chunk_edges_is_refused():
    bs = range_stats(dsa.zeros((4, 4), chunks=2), key="k", lo=LO, hi=HI)
    with pytest.raises(ValueError, match="chunk edges"):
        bs.blocks(0, 3, 0, 4)
