"""A run's windows: every cell in exactly one, about ``per_window`` chunks' cells each."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from soilmap.pipeline.execute import windows

_SIDES = st.lists(st.integers(1, 9), min_size=1, max_size=7)


def _counts(chunks, wins) -> np.ndarray:
    seen = np.zeros((sum(chunks[0]), sum(chunks[1])), dtype=int)
    for r0, r1, c0, c1 in wins:
        seen[r0:r1, c0:c1] += 1
    return seen


@settings(max_examples=300, deadline=None)
@given(rows=_SIDES, cols=_SIDES, per_window=st.integers(1, 6))
def test_every_cell_in_exactly_one_chunk_aligned_window(rows, cols, per_window):
    chunks = (tuple(rows), tuple(cols))
    wins = windows(chunks, per_window)
    assert (_counts(chunks, wins) == 1).all()
    ys, xs = set(np.cumsum((0, *rows)).tolist()), set(np.cumsum((0, *cols)).tolist())
    assert all(r0 in ys and r1 in ys and c0 in xs and c1 in xs for r0, r1, c0, c1 in wins)


def test_a_grid_of_full_chunks_gets_per_window_chunks_a_window():
    # 22 x 44 chunks of 1024 (the last ones partial), 4 a window: 11 windows a row.
    chunks = ((1024,) * 21 + (857,), (1024,) * 43 + (690,))
    wins = windows(chunks, 4)
    assert len(wins) == 21 * 11 + 11 - 1  # the last row of 857 x 44 690 cells: 10
    assert wins[0] == (0, 1024, 0, 4096)


def test_a_cropped_extent_is_not_cut_into_one_chunk_windows():
    # The regions' box of the 1e9-cell benchmark: 3 x 5 chunks, its edge chunks partial.
    # Counted in chunks that was 6 windows, 3 of them one chunk; by cells it is 4.
    chunks = ((503, 1024, 710), (869, 1024, 1024, 1024, 533))
    assert windows(chunks, 4) == [
        (0, 503, 0, 4474),
        (503, 1527, 0, 1893),
        (503, 1527, 1893, 4474),
        (1527, 2237, 0, 4474),
    ]


def test_narrow_rasters_take_several_chunk_rows_a_window():
    assert windows(((100,) * 10, (50,)), 4) == [
        (0, 400, 0, 50),
        (400, 800, 0, 50),
        (800, 1000, 0, 50),
    ]
