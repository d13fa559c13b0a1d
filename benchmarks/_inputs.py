"""Pieces the benchmarks build their synthetic inputs with (``bench_scale``, ``extent_crop``).

Tiled GeoTIFF profiles on a lon/lat grid, seeded Voronoi "regions" written as a
GeoPackage, and the run configuration of such inputs.  Each benchmark keeps its own sizes,
seeds, codecs and names; only the way of building is shared, so what they generate is
unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Block (tile) size of every generated raster, cells.
BLOCK = 512


#: The sections of the benchmarks' run configurations after their inputs: the regions of
#: :func:`write_regions`, the 4p1000 linear scenario and the output folder.
_CONFIG_TAIL = """\
[regions]
path = "regions.gpkg"
id_field = "region_id"
name_field = "region_name"

[scenario]
name = "4p1000"
rate = 0.004
start_year = 2020
horizons = {horizons}
growth = "linear"

[output]
dir = "out"
compress = "{compress}"
"""


def run_config(inputs: str, *, horizons: list[int], compress: str) -> str:
    """A ``soilmap run`` configuration (TOML): ``inputs`` (its comment line and the
    ``[soc]``, ``[landcover]`` sections), then ``regions.gpkg``, the 4p1000 scenario
    (0.004 yr-1, linear, from 2020 to ``horizons``) and ``out/`` written with ``compress``."""
    return f"{inputs}\n" + _CONFIG_TAIL.format(horizons=horizons, compress=compress)


def tiled_profile(
    width: int,
    height: int,
    dtype: str,
    *,
    west: float,
    north: float,
    res: float,
    nodata: float,
    compress: str,
    predictor: int,
    **codec: object,
) -> dict:
    """A rasterio profile of a tiled (512 × 512), compressed EPSG:4326 GeoTIFF.

    Parameters
    ----------
    width, height : int
        Columns and rows.
    dtype : str
        Cell type, e.g. ``"float32"``, ``"int16"``.
    west, north : float
        Upper-left corner, degrees.
    res : float
        Cell size, degrees.
    nodata : float
        Nodata value.
    compress : str
        GDAL codec, e.g. ``"deflate"``, ``"zstd"``.
    predictor : int
        2 (horizontal, integers) or 3 (floating point).
    **codec
        Further creation options of the codec (e.g. ``zlevel=6``).
    """
    from affine import Affine

    return {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": dtype,
        "crs": "EPSG:4326",
        "transform": Affine(res, 0, west, 0, -res, north),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": compress,
        **codec,
        "predictor": predictor,
        "bigtiff": "if_safer",
        "num_threads": "all_cpus",
    }


def voronoi_cells(
    rng: np.random.Generator, count: int, box: tuple[float, float, float, float]
) -> np.ndarray:
    """Voronoi polygons of ``count`` random points of ``rng`` in ``box`` (W, S, E, N),
    extended to the box (not yet clipped)."""
    import shapely

    west, south, east, north = box
    pts = shapely.multipoints(rng.uniform((west, south), (east, north), (count, 2)))
    return shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=shapely.box(*box)))


def write_regions(path: Path, cells: np.ndarray, *, ids: str, names: str) -> None:
    """Write polygons (lon/lat) as a GeoPackage of regions, atomically.

    Parameters
    ----------
    path : Path
        The GeoPackage (written under a temporary name, then renamed).
    cells : array of shapely.Polygon
        The regions, in order.
    ids, names : str
        Formats of ``region_id`` and ``region_name`` by index, e.g. ``"R{:04d}"``.
    """
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(
        {
            "region_id": [ids.format(i) for i in range(len(cells))],
            "region_name": [names.format(i) for i in range(len(cells))],
        },
        geometry=cells,
        crs=4326,
    )
    tmp = path.with_suffix(".part.gpkg")
    gdf.to_file(tmp, driver="GPKG", engine="pyogrio")
    os.replace(tmp, path)
