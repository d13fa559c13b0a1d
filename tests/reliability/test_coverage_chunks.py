"""Small chunks put chunk edges across polygon spikes: the coverage must not crash or change.

Regression of issue 14: ``soilmap run`` on the WHRC global 10 km map with the Natural
Earth 1:110m countries at ``--memory-limit 200MB`` crashed with ``GEOSException:
Invalid number of points in LinearRing found 3`` (fine at 1GB).  The cause: Sudan's
outline has a thin spike (tip at 33.97498° E, 8.68456° N) and GEOS's rectangle
clipper (``shapely.clip_by_rect``) turns the tip cut off by a chunk edge into a
ring of three points.  :func:`soilmap.zonal.coverage.clip_to_rect` falls back to
an overlay intersection for such geometries.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from realdata import need_data

from soilmap.landuse.fractions import uniform_fractions
from soilmap.testing import make_grid, make_layer
from soilmap.zonal.coverage import clip_to_rect
from soilmap.zonal.sums import zonal_sums

# Four vertices of Natural Earth 1:110m Sudan (public domain): the spike and a
# point that closes it into a quadrilateral.
SPIKE = shapely.Polygon(
    [
        (33.961620000000096, 9.583580000000097),
        (33.97498000000007, 8.68455999999992),
        (33.963392794971185, 9.464285229420625),
        (33.0, 12.0),
    ]
)
#: The chunk of the crash: rows of 1/12° at the WHRC grid's edge 8.7500325° N.
RECT = (-180.0, 7.50003299999999, 179.99985600000002, 8.75003249999999)


def test_spike_clipped_at_a_chunk_edge():
    assert SPIKE.is_valid
    clipped = clip_to_rect(np.array([SPIKE]), RECT)
    # Independent reference: the overlay intersection's area (the tip is a sliver).
    expected = shapely.intersection(SPIKE, shapely.box(*RECT)).area
    assert shapely.area(clipped[0]) == pytest.approx(expected, rel=1e-12, abs=1e-18)
    # Where GEOS's clipper works, clip_to_rect gives exactly its result.
    box = (33.0, 9.0, 35.0, 12.0)
    assert shapely.equals_exact(clip_to_rect(np.array([SPIKE]), box)[0],
                                shapely.clip_by_rect(SPIKE, *box), 0.0)  # fmt: skip


def _area_sum(chunks):
    # 0.05° cells from 33°E 12°N, 90 x 60: a chunk edge at row 66 is y = 8.7.
    grid = make_grid((90, 60), crs="EPSG:4326", res=0.05, origin=(33.0, 12.0))
    ones = make_layer(np.ones((90, 60)), grid, units="t C ha-1", chunks=chunks)
    regions = gpd.GeoDataFrame(
        {"region_id": ["SDN"], "region_name": ["spike"]}, geometry=[SPIKE], crs=4326
    )
    sums = zonal_sums(uniform_fractions(ones), ones, {"v": ones}, regions, grid)
    return sums.compute().frame(regions)["area_ha"].sum()


def test_zonal_sums_with_chunk_edge_across_the_spike():
    # Cell area is 1 "ha" per cell, so the total is the polygon's area in cells.
    whole = _area_sum((90, 60))
    cut = _area_sum((66, 30))  # row chunks of 66: an edge at 8.7°N, across the tip
    assert whole == pytest.approx(SPIKE.area / 0.05**2, rel=1e-12)
    assert cut == pytest.approx(whole, rel=1e-12)


@pytest.mark.realdata
def test_natural_earth_sudan_on_the_whrc_chunk():
    from soilmap.datasets import fetch

    files = need_data(lambda: fetch("natural_earth_admin"))
    shp = files["naturalearth_lowres_110m_admin0/naturalearth_lowres.shp"]
    world = gpd.read_file(shp)
    sudan = world.loc[world["iso_a3"] == "SDN", "geometry"].to_numpy()
    clipped = clip_to_rect(sudan, RECT)
    expected = shapely.intersection(sudan[0], shapely.box(*RECT)).area
    assert shapely.area(clipped[0]) == pytest.approx(expected, rel=1e-12)
    assert expected > 0.01  # a real piece of Sudan (0.037 deg2), not only the sliver
