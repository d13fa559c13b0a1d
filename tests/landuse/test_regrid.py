"""Land cover from any grid onto the reference grid as area fractions (soilmap.regrid).

Expected fractions are worked out on paper (aligned and same-CRS grids: exact) or
from exact polygon intersections with shapely (other CRSs and rotated grids: the
documented bound, < 1/k per straight class boundary crossing a cell).
"""

from __future__ import annotations

import math
import pickle

import cloudpickle
import dask
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer

import soilmap.landuse.regrid as regrid
from soilmap.errors import (
    CRSError,
    InputError,
    InputNotFoundError,
    NoOverlapError,
    UnknownClassError,
)
from soilmap.grid import Grid
from soilmap.io.raster import open_categorical
from soilmap.landuse.fractions import dominant_group, fractions_from_classes
from soilmap.landuse.regrid import class_fractions, class_fractions_and_index, covered_share
from soilmap.landuse.schemes import load_class_table
from soilmap.testing import make_grid, raise_if_dask_computes, write_raster

UTM = "EPSG:32637"
X0, Y0 = 500_000.0, 1_400_000.0
CROP, FOREST, GRASS, WATER, BUILT = 40, 10, 30, 80, 50


@pytest.fixture(scope="module")
def table():
    return load_class_table("esa_worldcover")


def frac(out, group):
    return out.sel(group=group).values.astype("float64")


# ----------------------------------------------------------------------------- exact cases


def pattern_10m() -> np.ndarray:
    """9 x 12 pixels of 10 m; each 3 x 3 block's content is listed in the tests."""
    v = np.full((9, 12), FOREST, dtype=np.uint8)
    v[0:3, 0:3] = [[FOREST, CROP, FOREST], [CROP, CROP, FOREST], [FOREST] * 3]  # 3/9 crop
    v[:, 6] = GRASS  # stripes: 1/3 grass, 2/3 crop in block column 2
    v[:, 7:9] = CROP
    r, c = np.mgrid[3:9, 0:6]
    v[3:9, 0:6] = np.where(c > r - 3, GRASS, FOREST)  # diagonal half-plane
    v[0:3, 9:12] = 0  # nodata
    v[3:6, 9:12] = [[0, WATER, WATER], [0, WATER, WATER], [0, BUILT, BUILT]]
    return v


# Ninths of each 30 m cell, worked out from pattern_10m().
CROP_9 = [[3, 0, 6, 0], [0, 0, 6, 0], [0, 0, 6, 0]]
GRASS_9 = [[0, 0, 3, 0], [3, 9, 3, 0], [0, 3, 3, 0]]
EXCL_9 = [[0, 0, 0, 0], [0, 0, 0, 6], [0, 0, 0, 0]]
COVER_9 = [[9, 9, 9, 0], [9, 9, 9, 6], [9, 9, 9, 9]]


@pytest.fixture
def lc10(tmp_path):
    return write_raster(
        tmp_path / "lc10.tif", pattern_10m(), make_grid((9, 12), res=10.0), nodata=0
    )


@pytest.mark.parametrize("chunks", [None, (2, 3), (1, 1)])
def test_aligned_factor_3_is_the_mean_of_nine_pixels(lc10, table, chunks):
    ref = make_grid((3, 4), res=30.0)
    with raise_if_dask_computes():
        out = class_fractions(lc10, table, ref, chunks=chunks)
    assert out.attrs["method"] == "area-exact"
    np.testing.assert_allclose(frac(out, "cropland") * 9, CROP_9, atol=1e-5)
    np.testing.assert_allclose(frac(out, "grassland") * 9, GRASS_9, atol=1e-5)
    np.testing.assert_allclose(frac(out, "excluded") * 9, EXCL_9, atol=1e-5)
    np.testing.assert_allclose(covered_share(out).values * 9, COVER_9, atol=1e-5)
    forest = np.array(COVER_9) - CROP_9 - np.array(GRASS_9) - EXCL_9
    np.testing.assert_allclose(frac(out, "forest") * 9, forest, atol=1e-5)


def test_result_is_a_fractions_layer(lc10, table):
    ref = make_grid((3, 4), res=30.0)
    out = class_fractions(lc10, table, ref)
    assert out.dims == ("group", "y", "x") and out.dtype == np.float32
    assert tuple(out.group.values) == table.code_to_group_index("error").groups
    assert out.rio.crs == CRS.from_user_input(UTM)
    np.testing.assert_allclose(out.x, ref.xs())
    np.testing.assert_allclose(out.y, ref.ys())
    assert out.attrs["units"] == "1"
    assert out.attrs["long_name"] == "land-use group area fraction"
    assert out.attrs["class_table"] == "esa_worldcover"
    assert out.attrs["source"] == str(lc10)
    assert "class_fractions(" in out.attrs["history"]


def test_grid_shifted_one_pixel_out_of_the_source(lc10, table):
    # Cells of the first column hang one pixel (10 m of 30 m) off the west edge.
    ref = make_grid((3, 4), res=30.0, origin=(X0 - 10.0, Y0))
    cover = covered_share(class_fractions(lc10, table, ref)).values
    np.testing.assert_allclose(cover[:, 0], 6 / 9, atol=1e-6)
    crop = frac(class_fractions(lc10, table, ref), "cropland")
    assert crop[0, 0] == pytest.approx(3 / 9, abs=1e-6)  # pixels (0,1),(1,0),(1,1) inside


def test_non_aligned_25m_grid(tmp_path, table):
    v = np.full((9, 12), FOREST, dtype=np.uint8)
    v[0:3, 0:3] = [[FOREST, CROP, FOREST], [CROP, CROP, FOREST], [FOREST] * 3]
    v[:, 6:] = CROP
    path = write_raster(tmp_path / "lc.tif", v, make_grid((9, 12), res=10.0), nodata=0)
    # Cells start 5 m east and 5 m south of the source corner; 2.5 pixels wide.
    ref = make_grid((4, 5), res=25.0, origin=(X0 + 5.0, Y0 - 5.0))
    out = class_fractions(path, table, ref, chunks=(3, 2))
    assert out.attrs["method"] == "area-exact"
    # Cell (0,0) spans pixels 0.5..3: crop pixels (0,1) half, (1,0) half, (1,1) whole = 2/6.25.
    # Column 2 spans pixels 5.5..8: crop from 6 = 2/2.5.  Column 4: 10.5..13, source ends at 12.
    crop = [[0.32, 0, 0.8, 1, 0.6], [0, 0, 0.8, 1, 0.6], [0, 0, 0.8, 1, 0.6]]
    crop.append([0, 0, 0.32, 0.4, 0.24])  # last row: rows 8..10.5, source ends at 9
    np.testing.assert_allclose(frac(out, "cropland"), crop, atol=1e-6)
    cover = np.outer([1, 1, 1, 0.4], [1, 1, 1, 1, 0.6])
    np.testing.assert_allclose(covered_share(out).values, cover, atol=1e-6)


def test_coarser_source_300m_onto_250m(tmp_path, table):
    src = make_grid((2, 2), res=300.0)
    path = write_raster(
        tmp_path / "lc300.tif", np.array([[CROP, FOREST], [FOREST, GRASS]], "uint8"), src
    )
    out = class_fractions(path, table, make_grid((3, 3), res=250.0))
    # Per axis, cells overlap source pixels by (1, 0), (0.2, 0.8), (0, 0.4).
    share = np.array([[1.0, 0.0], [0.2, 0.8], [0.0, 0.4]])
    np.testing.assert_allclose(frac(out, "cropland"), np.outer(share[:, 0], share[:, 0]), atol=1e-6)
    np.testing.assert_allclose(
        frac(out, "grassland"), np.outer(share[:, 1], share[:, 1]), atol=1e-6
    )
    forest = np.outer(share[:, 0], share[:, 1]) + np.outer(share[:, 1], share[:, 0])
    np.testing.assert_allclose(frac(out, "forest"), forest, atol=1e-6)
    np.testing.assert_allclose(
        covered_share(out).values, np.outer([1, 1, 0.4], [1, 1, 0.4]), atol=1e-6
    )


def test_lon_lat_rows_weighted_by_true_area(tmp_path, table):
    # 0.01° pixels at 60° N; the 0.03° cell's top pixel row is cropland.
    res = 0.01
    src = Grid(CRS.from_epsg(4326).to_wkt(), Affine(res, 0, 10.0, 0, -res, 60.03), (3, 3))
    v = np.full((3, 3), FOREST, "uint8")
    v[0] = CROP
    path = write_raster(tmp_path / "ll.tif", v, src)
    ref = Grid(src.crs_wkt, Affine(0.03, 0, 10.0, 0, -0.03, 60.03), (1, 1))
    out = class_fractions(path, table, ref)
    # Independent check: ∫ cosφ / (1 − e² sin²φ)² dφ over the top row / over the cell.
    e2 = 0.00669437999014
    phi = np.radians(np.linspace(60.0, 60.03, 300_001))
    dens = np.cos(phi) / (1 - e2 * np.sin(phi) ** 2) ** 2
    top = phi >= np.radians(60.02)
    expected = np.trapezoid(dens[top], phi[top]) / np.trapezoid(dens, phi)
    assert frac(out, "cropland")[0, 0] == pytest.approx(expected, abs=1e-7)
    assert expected < 1 / 3 - 1e-5  # the poleward row is smaller: plain counting is wrong
    assert covered_share(out).values[0, 0] == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------- sampled (other CRS)


def apply(t: Affine, x, y):
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def exact_shares(src: Grid, codes: np.ndarray, ref: Grid, groups: dict[int, str], table):
    """Exact per-group shares of every reference cell, by polygon intersection (shapely)."""
    to_src = Transformer.from_crs(ref.crs, src.crs, always_xy=True)
    t = src.transform
    boxes = {}
    for code in np.unique(codes):
        # One box per run of the code along a row: far fewer boxes than pixels.
        padded = np.pad(codes == code, ((0, 0), (1, 1))).astype(np.int8)
        rows, edges = np.nonzero(np.diff(padded, axis=1))
        starts, ends = edges[0::2], edges[1::2]
        x0, y0 = apply(t, starts, rows[0::2])
        x1, y1 = apply(t, ends, rows[0::2] + 1)
        boxes[int(code)] = shapely.union_all(shapely.box(x0, y1, x1, y0))
    extent = shapely.box(*src.bounds)
    h, w = ref.shape
    names = table.code_to_group_index("error").groups
    out = {g: np.zeros((h, w)) for g in names}
    cover = np.zeros((h, w))
    lines = np.zeros((h, w), dtype=int)
    xs = t.c + t.a * np.arange(src.width + 1)
    ys = t.f + t.e * np.arange(src.height + 1)
    for i in range(h):
        for j in range(w):
            corners = np.array([(j, i), (j + 1, i), (j + 1, i + 1), (j, i + 1), (j, i)], float)
            ring = shapely.segmentize(shapely.LineString(corners), 1 / 64)
            cc, rr = np.asarray(ring.coords).T
            x, y = apply(ref.transform, cc, rr)
            cell = shapely.Polygon(np.c_[to_src.transform(x, y)])
            for code, poly in boxes.items():
                if code in groups:
                    out[groups[code]][i, j] += cell.intersection(poly).area / cell.area
            cover[i, j] = cell.intersection(extent).area / cell.area
            # Straight source-pixel edge lines (extent included) crossing the cell.
            x0, y0, x1, y1 = cell.bounds
            lines[i, j] = ((xs > x0) & (xs < x1)).sum() + ((ys > y0) & (ys < y1)).sum()
    return out, cover, lines


def check_against_exact(out, exact, cover, lines):
    ky, kx = (int(v) for v in out.attrs["samples"].split("x"))
    bound = lines / min(kx, ky) + 1e-6
    for g, ex in exact.items():
        err = np.abs(frac(out, g) - ex)
        assert (err <= bound).all(), (g, err.max(), bound[err > bound])
        # A cell no source edge crosses lies in one pixel, hence one class: exact.
        np.testing.assert_allclose(frac(out, g)[lines == 0], ex[lines == 0], atol=1e-6)
    got_cover = covered_share(out).values
    assert (np.abs(got_cover - cover) <= bound).all()
    np.testing.assert_allclose(got_cover, out.values.sum(axis=0), atol=1e-6)
    assert out.values.min() >= 0 and got_cover.max() <= 1 + 1e-6


@pytest.fixture
def utm_stripes(tmp_path):
    src = make_grid((60, 60), res=10.0)
    v = np.full((60, 60), FOREST, "uint8")
    v[:, :25] = CROP
    v[:, 45:] = GRASS
    return src, v, write_raster(tmp_path / "stripes.tif", v, src)


GROUPS = {CROP: "cropland", FOREST: "forest", GRASS: "grassland", WATER: "excluded"}


@pytest.mark.parametrize("chunks", [None, (5, 4)])
def test_utm_source_onto_lon_lat_grid(utm_stripes, table, chunks):
    src, v, path = utm_stripes
    lon0, lat0 = Transformer.from_crs(UTM, 4326, always_xy=True).transform(X0 - 20, Y0 + 20)
    res = 0.0005  # ~55 m; the grid hangs over the source's north and west edges
    ref = Grid(CRS.from_epsg(4326).to_wkt(), Affine(res, 0, lon0, 0, -res, lat0), (13, 13))
    with raise_if_dask_computes():
        out = class_fractions(path, table, ref, chunks=chunks)
    assert out.attrs["method"] == "area-sampled"
    exact, cover, lines = exact_shares(src, v, ref, GROUPS, table)
    check_against_exact(out, exact, cover, lines)
    assert (cover[1:10, 1:10] > 0.999).all() and cover[0, 0] < 0.5


def test_rotated_reference_grid(utm_stripes, table):
    src, v, path = utm_stripes
    # 25 m cells turned by 30°, same CRS: the exact separable kernel cannot apply.
    c, s = 25 * math.cos(math.radians(30)), 25 * math.sin(math.radians(30))
    rot = Affine(c, s, X0 + 300, s, -c, Y0 - 20)
    ref = Grid(src.crs_wkt, rot, (14, 14))
    out = class_fractions(path, table, ref, chunks=(7, 5))
    assert out.attrs["method"] == "area-sampled"
    exact, cover, lines = exact_shares(src, v, ref, GROUPS, table)
    check_against_exact(out, exact, cover, lines)


def test_coarse_utm_source_onto_finer_lon_lat_grid(tmp_path, table):
    src = make_grid((4, 4), res=300.0)
    v = np.array([[CROP, FOREST, GRASS, CROP]] * 2 + [[WATER, CROP, FOREST, FOREST]] * 2, "uint8")
    path = write_raster(tmp_path / "c300.tif", v, src)
    lon0, lat0 = Transformer.from_crs(UTM, 4326, always_xy=True).transform(X0 - 100, Y0 + 100)
    res = 250 / 111_000  # ~250 m
    ref = Grid(CRS.from_epsg(4326).to_wkt(), Affine(res, 0, lon0, 0, -res, lat0), (6, 6))
    out = class_fractions(path, table, ref, chunks=(4, 4))
    exact, cover, lines = exact_shares(src, v, ref, GROUPS, table)
    check_against_exact(out, exact, cover, lines)


def test_big_cells_skip_uniform_footprints_and_stay_within_the_bound(tmp_path, table):
    # ~22-pixel cells (k ≈ 44): cells lying in one class are filled without sampling.
    src = make_grid((300, 300), res=10.0)
    v = np.full((300, 300), FOREST, "uint8")
    v[:, :90] = CROP
    v[150:, 200:] = GRASS
    path = write_raster(tmp_path / "big.tif", v, src)
    lon0, lat0 = Transformer.from_crs(UTM, 4326, always_xy=True).transform(X0 - 100, Y0 + 100)
    ref = Grid(CRS.from_epsg(4326).to_wkt(), Affine(2e-3, 0, lon0, 0, -2e-3, lat0), (15, 15))
    results = []
    for chunks in (None, (4, 7), (15, 15)):
        out = class_fractions(path, table, ref, chunks=chunks)
        results.append(out.values)
    assert min(int(k) for k in out.attrs["samples"].split("x")) >= 32
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    exact, cover, lines = exact_shares(src, v, ref, GROUPS, table)
    check_against_exact(out, exact, cover, lines)
    assert (results[0] == 1.0).sum() > 20  # many whole cells


def test_sampled_matches_exact_kernel_on_the_same_grids(lc10, table, monkeypatch):
    ref = make_grid((4, 5), res=25.0, origin=(X0 + 5.0, Y0 - 5.0))
    exact = class_fractions(lc10, table, ref).values
    monkeypatch.setattr(regrid, "_can_be_exact", lambda *a: False)
    sampled = class_fractions(lc10, table, ref)
    assert sampled.attrs["method"] == "area-sampled"
    k = int(sampled.attrs["samples"].split("x")[0])
    # Up to 4 pixel edges cross a 2.5-pixel cell per axis.
    assert np.abs(sampled.values - exact).max() <= 4 / k
    assert np.abs(sampled.values - exact).mean() <= 0.1 / k


# ------------------------------------------------------------------------ nearest, same grid


def test_nearest_takes_the_centre_pixel(lc10, table):
    out = class_fractions(lc10, table, make_grid((3, 4), res=30.0), method="nearest")
    centre = pattern_10m()[1::3, 1::3]
    assert out.attrs["method"] == "nearest"
    np.testing.assert_array_equal(frac(out, "cropland"), centre == CROP)
    np.testing.assert_array_equal(frac(out, "grassland"), centre == GRASS)
    np.testing.assert_array_equal(covered_share(out).values, centre != 0)


def test_same_grid_delegates_to_one_hot(lc10, table):
    grid = make_grid((9, 12), res=10.0)
    out = class_fractions(lc10, table, grid, chunks=(4, 5))
    expected = fractions_from_classes(open_categorical(lc10, chunks=(4, 5)), table, reference=grid)
    assert out.attrs["method"] == "same-grid"
    np.testing.assert_array_equal(out.values, expected.values)
    assert tuple(out.group.values) == tuple(expected.group.values)


def test_same_grid_gives_the_group_index_of_the_fractions(lc10, table):
    grid = make_grid((9, 12), res=10.0)
    with raise_if_dask_computes():
        frac, index = class_fractions_and_index(lc10, table, grid, chunks=(4, 5))
    assert index is not None and index.dtype == "int8"
    assert index.attrs["groups"] == [str(g) for g in frac.group.values]
    idx = index.values
    for g in range(frac.sizes["group"]):
        np.testing.assert_array_equal(frac.values[g], (idx == g).astype("float32"))
    np.testing.assert_array_equal(idx < 0, frac.values.sum(axis=0) == 0)
    codes = {str(g): k + 1 for k, g in enumerate(frac.group.values)}
    np.testing.assert_array_equal(
        dominant_group(frac, codes, group_index=index).values, dominant_group(frac, codes).values
    )
    _, none = class_fractions_and_index(lc10, table, make_grid((3, 4), res=30.0))
    assert none is None  # another grid: the fractions are shares, not 0/1


# ------------------------------------------------------------------------- laziness, graph


@pytest.mark.parametrize("kind", ["exact", "sampled", "nearest"])
def test_lazy_and_identical_across_chunkings(utm_stripes, table, kind):
    _, _, path = utm_stripes
    if kind == "exact":
        ref, method = make_grid((25, 26), res=25.0, origin=(X0 - 7, Y0 + 3)), "area"
    else:
        lon0, lat0 = Transformer.from_crs(UTM, 4326, always_xy=True).transform(X0 - 20, Y0 + 20)
        ref = Grid(CRS.from_epsg(4326).to_wkt(), Affine(3e-4, 0, lon0, 0, -3e-4, lat0), (21, 22))
        method = "area" if kind == "sampled" else "nearest"
    results = []
    for chunks in (None, (7, 5), (25, 26), (1, 3)):
        with raise_if_dask_computes():
            out = class_fractions(path, table, ref, chunks=chunks, method=method)
        assert dask.is_dask_collection(out)
        results.append(out.values)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_graph_pickles_and_computes_after_a_round_trip(utm_stripes, table):
    _, _, path = utm_stripes
    lon0, lat0 = Transformer.from_crs(UTM, 4326, always_xy=True).transform(X0, Y0)
    ref = Grid(CRS.from_epsg(4326).to_wkt(), Affine(3e-4, 0, lon0, 0, -3e-4, lat0), (9, 9))
    arr = class_fractions(path, table, ref, chunks=(4, 4)).data
    graph = dict(arr.__dask_graph__())
    pickle.dumps(graph)
    restored = cloudpickle.loads(cloudpickle.dumps(graph))
    blocks = dask.get(restored, arr.__dask_keys__()[0][0])
    np.testing.assert_array_equal(np.concatenate(blocks, axis=2)[:, :4], arr.compute()[:, :4])


def test_memory_is_bounded_by_sub_blocks(lc10, table, monkeypatch):
    """A chunk larger than the window budget is worked through in sub-blocks."""
    ref = make_grid((3, 4), res=30.0)
    whole = class_fractions(lc10, table, ref, chunks=(3, 4)).values
    monkeypatch.setattr(regrid, "MAX_WINDOW_PIXELS", 9)  # one 30 m cell of 10 m pixels
    sizes = []
    original = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        data = original(self, *args, **kwargs)
        sizes.append(data.size)
        return data

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    small = class_fractions(lc10, table, ref, chunks=(3, 4))
    assert small.chunks[1:] == ((3,), (4,))
    np.testing.assert_array_equal(small.values, whole)
    assert max(sizes) <= 9 and len(sizes) == 12


# ------------------------------------------------------------------------------- errors


def test_unknown_codes_raise_at_compute_naming_codes_table_and_fix(tmp_path, table):
    v = np.full((9, 12), FOREST, "uint8")
    v[4, 4], v[7, 10] = 7, 123
    path = write_raster(tmp_path / "odd.tif", v, make_grid((9, 12), res=10.0), nodata=0)
    for ref in (make_grid((3, 4), res=30.0), make_grid((4, 5), res=25.0, origin=(X0 + 5, Y0 - 5))):
        with raise_if_dask_computes():
            out = class_fractions(path, table, ref)  # building reads no pixel
        with pytest.raises(UnknownClassError) as err:
            out.compute()
        msg = str(err.value)
        assert "[7, 123]" in msg and "esa_worldcover" in msg and "excluded" in msg


def test_unknown_codes_counted_as_excluded(tmp_path, table):
    v = np.full((9, 12), FOREST, "uint8")
    v[0:3, 0:3] = 7
    v[0, 0] = 0  # nodata stays unknown land, not excluded
    path = write_raster(tmp_path / "odd.tif", v, make_grid((9, 12), res=10.0), nodata=0)
    out = class_fractions(path, table, make_grid((3, 4), res=30.0), unknown="excluded")
    assert tuple(out.group.values) == table.code_to_group_index("excluded").groups
    assert frac(out, "excluded")[0, 0] == pytest.approx(8 / 9, abs=1e-6)
    assert covered_share(out).values[0, 0] == pytest.approx(8 / 9, abs=1e-6)


def test_file_nodata_outside_the_table_is_nodata_not_unknown(tmp_path, table):
    v = np.full((9, 12), FOREST, "uint8")
    v[0:3, 0:3] = 255
    path = write_raster(tmp_path / "nd.tif", v, make_grid((9, 12), res=10.0), nodata=255)
    out = class_fractions(path, table, make_grid((3, 4), res=30.0))
    assert covered_share(out).values[0, 0] == 0 and covered_share(out).values[0, 1] == 1


def test_missing_file(tmp_path, table):
    with pytest.raises(InputNotFoundError, match="does not exist"):
        class_fractions(tmp_path / "nope.tif", table, make_grid())


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_no_crs_names_the_file_and_the_fix(tmp_path, table):
    path = write_raster(tmp_path / "nocrs.tif", np.full((4, 4), 10, "uint8"), None)
    with pytest.raises(CRSError, match=r"nocrs\.tif.*gdal_edit"):
        class_fractions(path, table, make_grid())


def test_no_overlap_names_both_extents(lc10, table):
    far = make_grid((3, 4), res=30.0, origin=(X0 + 50_000, Y0))
    with pytest.raises(NoOverlapError) as err:
        class_fractions(lc10, table, far)
    assert str(err.value).count("lon ") == 2 and "lat " in str(err.value)
    world = Grid(CRS.from_epsg(4326).to_wkt(), Affine(1, 0, -170, 0, -1, -60), (10, 10))
    with pytest.raises(NoOverlapError):
        class_fractions(lc10, table, world)


def test_non_integral_float_codes_are_refused_with_their_count(tmp_path, table):
    codes = np.full((9, 12), 10.0, "float32")
    codes[0, :3] = 10.5
    path = write_raster(tmp_path / "f.tif", codes, make_grid((9, 12), res=10.0))
    with pytest.raises(InputError, match="3 non-integral value"):
        class_fractions(path, table, make_grid((3, 4), res=30.0)).compute()


def test_bad_method_and_chunks(lc10, table):
    with pytest.raises(InputError, match="method"):
        class_fractions(lc10, table, make_grid((3, 4), res=30.0), method="mode")
    with pytest.raises(InputError, match="chunks"):
        class_fractions(lc10, table, make_grid((3, 4), res=30.0), chunks=(0, 4))


def test_sample_count_follows_the_resolution_ratio(utm_stripes, table):
    _, _, path = utm_stripes
    lon0, lat0 = Transformer.from_crs(UTM, 4326, always_xy=True).transform(X0, Y0)
    # ~33 m cells (3.3 pixels): the floor of 16; ~200 m cells (~20 pixels): 2 per pixel.
    for res, low, high in ((3e-4, 16, 16), (1.8e-3, 39, 41)):
        ref = Grid(CRS.from_epsg(4326).to_wkt(), Affine(res, 0, lon0, 0, -res, lat0), (2, 2))
        samples = class_fractions(path, table, ref).attrs["samples"]
        assert all(low <= int(k) <= high for k in samples.split("x")), samples
