"""Cell areas checked against references computed another way.

* lon/lat cells: geodesic polygon areas (``pyproj.Geod``) with the parallels densified
  (Geod joins vertices by geodesics, which bow poleward of a parallel), and a direct
  Gauss–Legendre integration of the ellipsoidal area element over latitude;
* the whole ellipsoid: 4π R_q² with R_q from a numerical integral, and the published
  WGS 84 surface area 510 065 621.724 km²;
* projected cells: ``Geod`` areas of the cell outline, densified along each edge in
  projected coordinates and inverse-projected to lon/lat;
* Web Mercator: the closed-form area element cos²φ (1 − e²) / (1 − e² sin²φ)².
"""

from __future__ import annotations

import math

import dask
import dask.array as dsa
import numpy as np
import pytest
from affine import Affine
from pyproj import CRS, Geod, Transformer

from soilmap.areas import EQUAL_AREA, GEOGRAPHIC, cell_area_ha, total_area_ha
from soilmap.errors import CRSError, InputError
from soilmap.grid import Grid

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)
# NIMA TR8350.2 (WGS 84 definition), table 3.5: total surface area of the ellipsoid.
WGS84_SURFACE_KM2 = 510_065_621.724

# The real 250 m UTM grid of the sample data (Tigray, ~13° N).
UTM_WKT = CRS("EPSG:32637").to_wkt()
UTM_TRANSFORM = Affine(250, 0, 518938.970302553, 0, -250, 1447906.6648101)
UTM_SHAPE = (372, 349)


def lonlat_grid(res: float, left: float, top: float, shape: tuple[int, int]) -> Grid:
    return Grid(CRS("EPSG:4326").to_wkt(), Affine(res, 0, left, 0, -res, top), shape)


def projected_grid(crs: str, res: float, left: float, top: float, shape: tuple[int, int]) -> Grid:
    return Grid(CRS(crs).to_wkt(), Affine(res, 0, left, 0, -res, top), shape)


def geod_lonlat_cell_ha(lon0: float, lat0: float, dlon: float, dlat: float, n: int = 2000) -> float:
    """Geodesic area of a lon/lat cell with both parallels densified to ``n`` points."""
    lons = np.linspace(lon0, lon0 + dlon, n)
    if lat0 + dlat >= 90.0:  # the top "parallel" is the pole: one vertex, not a run of them
        lon, lat = np.r_[lons, lon0], np.r_[np.full(n, lat0), 90.0]
    else:
        lon = np.r_[lons, lons[::-1]]
        lat = np.r_[np.full(n, lat0), np.full(n, lat0 + dlat)]
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter(lon, lat)
    return abs(area) / 1e4


def integrated_lonlat_cell_ha(lat0: float, dlon: float, dlat: float) -> float:
    """∫∫ M N cosφ dφ dλ over the cell by 20-point Gauss–Legendre in latitude (WGS 84)."""
    nodes, weights = np.polynomial.legendre.leggauss(20)
    phi = np.radians(lat0 + dlat * (nodes + 1) / 2)
    element = WGS84_A**2 * (1 - WGS84_E2) * np.cos(phi) / (1 - WGS84_E2 * np.sin(phi) ** 2) ** 2
    return math.radians(dlon) * math.radians(dlat) / 2 * float(np.sum(weights * element)) / 1e4


def geod_projected_cell_ha(grid: Grid, row: int, col: int, n: int = 50) -> float:
    """Geodesic area of cell (row, col): outline densified to ``n`` points per edge."""
    crs = grid.crs
    t = grid.transform
    x0, x1 = t.c + t.a * col, t.c + t.a * (col + 1)
    y0, y1 = t.f + t.e * row, t.f + t.e * (row + 1)
    s = np.linspace(0, 1, n, endpoint=False)
    xs = np.r_[x0 + (x1 - x0) * s, np.full(n, x1), x1 + (x0 - x1) * s, np.full(n, x0)]
    ys = np.r_[np.full(n, y0), y0 + (y1 - y0) * s, np.full(n, y1), y1 + (y0 - y1) * s]
    geographic = crs.geodetic_crs
    lon, lat = Transformer.from_crs(crs, geographic, always_xy=True).transform(xs, ys)
    to_deg = math.degrees(geographic.axis_info[0].unit_conversion_factor)  # grads (NTF)
    ellipsoid = crs.ellipsoid
    geod = Geod(a=ellipsoid.semi_major_metre, b=ellipsoid.semi_minor_metre)
    area, _ = geod.polygon_area_perimeter(np.asarray(lon) * to_deg, np.asarray(lat) * to_deg)
    return abs(area) / 1e4


def max_rel(values, reference) -> float:
    values, reference = np.asarray(values, float), np.asarray(reference, float)
    return float(np.max(np.abs(values / reference - 1)))


def _no_compute(*args, **kwargs):
    raise AssertionError("something was computed while building the area layer")


# ------------------------------------------------------------------ geographic


@pytest.mark.parametrize("res", [1.0, 0.01])
@pytest.mark.parametrize("lat0", [0.0, 45.0, 80.0, "pole"])
def test_lonlat_cells_match_geodesic_polygons(res, lat0):
    bottom = 90.0 - 2 * res if lat0 == "pole" else lat0  # top row touches the North Pole
    grid = lonlat_grid(res, 10.0, bottom + 2 * res, (2, 3))
    area = cell_area_ha(grid)
    assert area.attrs["area_method"] == GEOGRAPHIC
    n = 2000 if res >= 1 else 100  # the geodesic/parallel gap shrinks as dlon³
    for row in range(2):
        lat = bottom + (1 - row) * res
        geod = geod_lonlat_cell_ha(10.0, lat, res, res, n)
        integral = integrated_lonlat_cell_ha(lat, res, res)
        # Measured: ≤ 1.3e-11 vs Geod (1.8e-8 for the 0.01° pole cell, Geod's own
        # limit there), ≤ 2.5e-12 vs the integral.
        assert max_rel(area.values[row], geod) < 1e-6
        assert max_rel(area.values[row], integral) < 1e-11
        assert np.all(area.values[row] == area.values[row, 0])  # only latitude matters


def test_global_lonlat_grid_sums_to_the_ellipsoid_surface():
    grid = lonlat_grid(1.0, -180.0, 90.0, (180, 360))
    area = cell_area_ha(grid)
    # Authalic radius from a numerical integral of the area element (not the closed
    # form used by the code): R_q² = ∫₀^{π/2} M N cosφ dφ.
    nodes, weights = np.polynomial.legendre.leggauss(64)
    phi = (nodes + 1) * np.pi / 4
    element = WGS84_A**2 * (1 - WGS84_E2) * np.cos(phi) / (1 - WGS84_E2 * np.sin(phi) ** 2) ** 2
    r_q2 = float(np.sum(weights * element)) * np.pi / 4
    surface_ha = 4 * np.pi * r_q2 / 1e4
    total = math.fsum(area.values.ravel())
    assert abs(total / surface_ha - 1) < 1e-9  # measured 3e-16
    assert abs(total / (WGS84_SURFACE_KM2 * 100) - 1) < 1e-9  # measured 1.7e-13
    assert abs(total_area_ha(grid) / surface_ha - 1) < 1e-12


def test_sphere_cells_sum_to_four_pi_r_squared():
    radius = 6_371_000.0
    grid = Grid(
        CRS(f"+proj=longlat +R={radius} +no_defs").to_wkt(),
        Affine(2.0, 0, -180, 0, -3.0, 90),
        (60, 180),
    )
    area = cell_area_ha(grid)
    assert area.attrs["area_method"] == GEOGRAPHIC
    assert abs(math.fsum(area.values.ravel()) / (4 * np.pi * radius**2 / 1e4) - 1) < 1e-12
    # a sphere's band: a² Δλ (sin φ2 − sin φ1)
    expected = radius**2 * math.radians(2.0) * (1 - math.sin(math.radians(87))) / 1e4
    assert abs(area.values[0, 0] / expected - 1) < 1e-12


def test_fine_lonlat_cells_add_up_to_the_coarse_cell():
    coarse = cell_area_ha(lonlat_grid(1.0, 30.0, 61.0, (1, 1))).values.sum()
    fine = math.fsum(cell_area_ha(lonlat_grid(0.01, 30.0, 61.0, (100, 100))).values.ravel())
    assert abs(fine / coarse - 1) < 1e-12


# ------------------------------------------------------------------ equal-area


def test_laea_europe_cells_are_exactly_100_ha():
    grid = projected_grid("EPSG:3035", 1000.0, 4_000_000.0, 3_200_000.0, (50, 60))
    area = cell_area_ha(grid)
    assert area.attrs["area_method"] == EQUAL_AREA
    assert np.all(area.values == 100.0)
    assert total_area_ha(grid) == 100.0 * 50 * 60
    # Cross-check the premise with Geod: PROJ's LAEA uses a series for the authalic
    # latitude, so the true footprint differs from 100 ha by ~3e-10.
    geod = [geod_projected_cell_ha(grid, r, c, n=400) for r, c in [(0, 0), (25, 30), (49, 59)]]
    assert max_rel(100.0, geod) < 1e-8


@pytest.mark.parametrize("crs", ["EPSG:6933", "EPSG:5070", "EPSG:8857", "ESRI:54008"])
def test_equal_area_projections_are_detected(crs):
    center = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(-100.0, 40.0)
    grid = projected_grid(crs, 1000.0, center[0], center[1], (4, 5))
    area = cell_area_ha(grid)
    assert area.attrs["area_method"] == EQUAL_AREA
    assert np.all(area.values == 100.0)
    assert max_rel(100.0, geod_projected_cell_ha(grid, 1, 2)) < 1e-8


def test_equal_area_in_feet_is_exact():
    grid = Grid(
        CRS("+proj=cea +lat_ts=30 +ellps=WGS84 +units=ft").to_wkt(),
        Affine(1000, 0, 4e6, 0, -1000, 3e6),
        (3, 3),
    )
    area = cell_area_ha(grid)
    assert area.attrs["area_method"] == EQUAL_AREA
    np.testing.assert_allclose(area.values, 1000 * 1000 * 0.3048**2 / 1e4, rtol=1e-15)


@pytest.mark.parametrize(
    ("crs", "left", "top"),
    [
        # PROJ's Mollweide is spherical (R = a) even on a WGS 84 datum
        ("ESRI:54009", 1_000_000.0, 5_000_000.0),
        # LAEA with the spherical formula on the authalic sphere of a GRS 80 datum
        (
            "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +R_A +ellps=GRS80 +units=m",
            4_000_000.0,
            3_000_000.0,
        ),
    ],
    ids=["mollweide", "laea-R_A"],
)
def test_spherical_formula_on_an_ellipsoid_is_not_taken_as_equal_area(crs, left, top):
    # The method name says "equal area" but 1 km cells are not 100 ha of the datum
    # ellipsoid (by -0.07 % and +0.34 % here); the quadrature measures the difference.
    grid = projected_grid(crs, 1000.0, left, top, (3, 3))
    area = cell_area_ha(grid)
    assert area.attrs["area_method"].startswith("quadrature")
    geod = [[geod_projected_cell_ha(grid, r, c) for c in range(3)] for r in range(3)]
    assert max_rel(area.values, geod) < 1e-7  # measured ≤ 4e-11
    assert abs(area.values[1, 1] / 100.0 - 1) > 5e-4


# ------------------------------------------------------------------ other projections


def test_utm_cells_match_geodesic_polygons():
    grid = Grid(UTM_WKT, UTM_TRANSFORM, UTM_SHAPE)
    area = cell_area_ha(grid)
    assert area.attrs["area_method"] == "quadrature_gl2"
    rng = np.random.default_rng(0)
    cells = [(0, 0), (0, 348), (371, 0), (371, 348), (186, 174)]
    cells += [tuple(rc) for rc in rng.integers((0, 0), UTM_SHAPE, size=(15, 2))]
    got = [area.values[r, c] for r, c in cells]
    geod = [geod_projected_cell_ha(grid, r, c) for r, c in cells]
    assert max_rel(got, geod) < 1e-7  # measured 9e-11
    # scale factor ≈ 0.9996 near the central meridian: cells are ~0.08 % over 6.25 ha
    assert np.all((area.values > 6.25) & (area.values < 6.26))


def test_web_mercator_at_60n_is_planar_times_cos2_on_the_ellipsoid():
    y60 = WGS84_A * math.log(math.tan(math.pi / 4 + math.radians(60) / 2))
    grid = projected_grid("EPSG:3857", 1000.0, 2_000_000.0, y60 + 2000.0, (4, 4))
    area = cell_area_ha(grid)
    geod = [[geod_projected_cell_ha(grid, r, c) for c in range(4)] for r in range(4)]
    assert max_rel(area.values, geod) < 1e-7  # measured 4e-11
    # Pseudo-Mercator: x = aλ, y = a artanh(sin φ) with φ the WGS 84 latitude, so
    # dA / (dx dy) = cos²φ · (1 − e²) / (1 − e² sin²φ)² (the 2nd factor is +0.3 % at 60°).
    _, lat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(
        np.full(4, 2_000_500.0), grid.ys()
    )
    s2 = np.sin(np.radians(lat)) ** 2
    planar_cos2 = 100.0 * (1 - s2)
    assert max_rel(area.values[:, 0], planar_cos2) < 5e-3
    ellipsoidal = planar_cos2 * (1 - WGS84_E2) / (1 - WGS84_E2 * s2) ** 2
    assert max_rel(area.values[:, 0], ellipsoidal) < 1e-8


@pytest.mark.parametrize(
    ("crs", "res", "left", "top"),
    [
        ("EPSG:2263", 1000.0, 984_250.0, 195_305.0),  # NY Long Island, US survey feet
        ("EPSG:27572", 250.0, 612_345.0, 2_203_456.0),  # NTF Paris: grads, Paris meridian
        ("EPSG:3031", 1000.0, -1500.0, 1500.0),  # centre cell sits on the South Pole
    ],
)
def test_other_units_meridians_and_poles_match_geodesic_polygons(crs, res, left, top):
    grid = projected_grid(crs, res, left, top, (3, 3))
    area = cell_area_ha(grid)
    assert np.all(np.isfinite(area.values))
    geod = [[geod_projected_cell_ha(grid, r, c) for c in range(3)] for r in range(3)]
    # measured ≤ 7.5e-11; 7.4e-9 at the pole, where Geod subtracts the cell from a
    # hemisphere and loses digits
    assert max_rel(area.values, geod) < 1e-7


def test_utm_fine_cells_add_up_to_the_coarse_cell():
    # 10 km cells use a 3×3 rule, 250 m cells 2×2: independent quadratures
    coarse = projected_grid("EPSG:32637", 10_000.0, 520_000.0, 1_450_000.0, (1, 1))
    fine = projected_grid("EPSG:32637", 250.0, 520_000.0, 1_450_000.0, (40, 40))
    assert cell_area_ha(coarse).attrs["area_method"] == "quadrature_gl3"
    total_fine = math.fsum(cell_area_ha(fine).values.ravel())
    assert abs(total_fine / cell_area_ha(coarse).values[0, 0] - 1) < 1e-9
    assert abs(total_area_ha(fine) / total_fine - 1) < 1e-12


# ------------------------------------------------------------------ laziness


@pytest.mark.parametrize(
    "grid",
    [
        Grid(UTM_WKT, UTM_TRANSFORM, (100_000, 100_000)),
        lonlat_grid(0.001, -20.0, 50.0, (100_000, 100_000)),
        projected_grid("EPSG:3035", 10.0, 4_000_000.0, 3_200_000.0, (100_000, 100_000)),
    ],
    ids=["utm", "lonlat", "laea"],
)
def test_large_grid_is_built_lazily(grid):
    with dask.config.set(scheduler=_no_compute):
        area = cell_area_ha(grid, chunks=(64, 64))
        corner = area.isel(y=slice(0, 5), x=slice(0, 5))
    assert isinstance(area.data, dsa.Array)
    assert area.shape == (100_000, 100_000)
    assert area.data.chunksize == (64, 64)
    assert area.data.chunks[0][:2] == (64, 64) and area.data.chunks[0][-1] == 100_000 % 64
    small = cell_area_ha(Grid(grid.crs_wkt, grid.transform, (5, 5)))
    # A projected grid this large is measured exactly on a 16-cell lattice and
    # interpolated (cubic) in between; the 5 x 5 grid is measured exactly.
    np.testing.assert_allclose(corner.compute(scheduler="sync").values, small.values, rtol=1e-9)


@pytest.mark.parametrize(
    "grid",
    [
        Grid(UTM_WKT, UTM_TRANSFORM, (90, 101)),
        lonlat_grid(0.5, -20.0, 50.0, (90, 101)),
        projected_grid("EPSG:3035", 1000.0, 4_000_000.0, 3_200_000.0, (90, 101)),
    ],
    ids=["utm", "lonlat", "laea"],
)
def test_numpy_and_dask_agree_exactly(grid):
    eager = cell_area_ha(grid)
    lazy = cell_area_ha(grid, chunks=(17, 40))
    assert isinstance(eager.data, np.ndarray)
    assert lazy.data.chunks == ((17,) * 5 + (5,), (40, 40, 21))
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert lazy.attrs["area_method"] == eager.attrs["area_method"]


# ------------------------------------------------------------------ metadata and errors


def test_coords_crs_and_attrs():
    grid = Grid(UTM_WKT, UTM_TRANSFORM, (6, 7))
    area = cell_area_ha(grid, dtype="float32")
    assert area.dims == ("y", "x")
    assert area.dtype == np.float32
    np.testing.assert_array_equal(area.y.values, grid.ys())
    np.testing.assert_array_equal(area.x.values, grid.xs())
    assert area.rio.crs.to_epsg() == 32637
    assert Grid.from_dataarray(area).matches(grid)
    assert area.attrs["units"] == "ha"
    assert area.attrs["long_name"] == "cell area"
    assert area.attrs["area_method"] == "quadrature_gl2"
    assert "WGS 84" in area.attrs["area_ellipsoid"]
    assert "cell_area_ha(EPSG:32637" in area.attrs["history"]


@pytest.mark.parametrize(
    "transform",
    [Affine(250, 10, 0, 0, -250, 0), Affine(250, 0, 0, 5, -250, 0), Affine(250, 0, 0, 0, 250, 0)],
    ids=["rotated", "sheared", "south-up"],
)
def test_non_north_up_grid_is_refused(transform):
    with pytest.raises(CRSError, match="north-up"):
        cell_area_ha(Grid(UTM_WKT, transform, (3, 3)))


def test_geographic_crs_not_in_degrees_is_refused():
    grid = Grid(CRS("EPSG:4807").to_wkt(), Affine(0.1, 0, 0, 0, -0.1, 50), (3, 3))  # grads
    with pytest.raises(CRSError, match="degrees"):
        cell_area_ha(grid)


def test_lonlat_grid_past_the_pole_is_refused():
    with pytest.raises(InputError, match="past a pole"):
        cell_area_ha(lonlat_grid(1.0, 0.0, 91.0, (3, 3)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"chunks": (0, 10)}, "positive"), ({"chunks": 5}, "pair"), ({"dtype": "int32"}, "floating")],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        cell_area_ha(Grid(UTM_WKT, UTM_TRANSFORM, (3, 3)), **kwargs)


def test_empty_grid_is_refused():
    with pytest.raises(InputError, match="no cells"):
        cell_area_ha(Grid(UTM_WKT, UTM_TRANSFORM, (0, 3)))


def test_results_do_not_depend_on_the_internal_tiling():
    # 9000 columns exceed one internal tile (8192 cells at 2×2 nodes); dask blocks of
    # 500 columns fit in one.  Summation order per cell is fixed, so bits agree.
    grid = Grid(UTM_WKT, UTM_TRANSFORM, (2, 9000))
    eager = cell_area_ha(grid)
    np.testing.assert_array_equal(cell_area_ha(grid, chunks=(1, 500)).values, eager.values)


@pytest.mark.parametrize("crs", ["EPSG:32637", "EPSG:4326", "EPSG:3035"])
def test_single_chunk_covers_the_grid(crs):
    # Regression: a grid that is one chunk wide came out (h, 1) instead of (h, w).
    from soilmap.testing import make_grid

    origin = (39.0, 13.0) if crs == "EPSG:4326" else (500_000.0, 1_400_000.0)
    res = 0.01 if crs == "EPSG:4326" else 250.0
    grid = make_grid((37, 34), crs=crs, res=res, origin=origin)
    lazy = cell_area_ha(grid, chunks=grid.shape)
    assert lazy.shape == grid.shape and lazy.data.chunks == ((37,), (34,))
    np.testing.assert_array_equal(lazy.values, cell_area_ha(grid).values)


def test_lattice_interpolation_is_within_1e9_of_exact_quadrature():
    """Large projected grids: exact on a lattice, cubic in between (checked cell by cell)."""
    from soilmap.areas import _plan

    for crs, res, origin in (
        ("EPSG:32651", 1000.0, (-174_346.55, 2_348_000.0)),
        ("EPSG:3857", 1000.0, (0.0, 11e6)),
        ("EPSG:3413", 1000.0, (-2e6, 2e6)),
    ):
        grid = Grid(
            CRS.from_user_input(crs).to_wkt(),
            Affine(res, 0, origin[0], 0, -res, origin[1]),
            (300, 280),
        )
        fast = cell_area_ha(grid).values
        exact = _plan(grid)[1].keywords["exact"](np.arange(300)[:, None], np.arange(280)[None, :])
        assert np.max(np.abs(fast / exact - 1)) < 1e-9, crs
        lazy = cell_area_ha(grid, chunks=(17, 40)).values
        np.testing.assert_array_equal(lazy, fast)
