"""Land use on the reference grid as per-group area fractions.

Land use is carried as ``fractions``: dims ``("group", "y", "x")``, the share (0–1)
of each cell's area in each land-use group.  Their sum over groups is the share of
the cell whose land cover is known.  A class raster on the reference grid gives
0/1 fractions; a raster on another grid is aggregated by :mod:`soilmap.landuse.regrid`.
0/1 fractions also come as a ``group index`` (each cell's group, -1 for none),
which lets the dominant group, scalar-rate cell maps and zonal sums work with one
lookup per cell instead of one pass per group.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

import dask.array as dsa
import numpy as np
import rioxarray
import xarray as xr

from soilmap.errors import InputError, UnknownClassError
from soilmap.grid import Grid, check_same_grid
from soilmap.io.raster import read_layout, tile_aligned_chunks
from soilmap.landuse.codes import float_codes, is_float_codes
from soilmap.landuse.table import ALL_LAND, LUT_NODATA, LUT_UNKNOWN, ClassTable, GroupIndexer
from soilmap.meta import append_history

__all__ = [
    "NODATA_CODE",
    "check_index_matches",
    "dominant_group",
    "fractions_from_classes",
    "fractions_from_index",
    "group_index_from_classes",
    "index_lookup",
    "landuse_codes",
    "open_landuse",
    "uniform_fractions",
]

#: Code of a cell with no land-use information in ``landuse.tif``.
NODATA_CODE = 255


def _group_index_block(
    block: np.ndarray,
    indexer: GroupIndexer,
    table_desc: str,
    source: str,
    dtype: str,
    float_nodata: float | None = None,
    block_info: dict | None = None,
) -> np.ndarray:
    if is_float_codes(block.dtype):
        # Float codes (R, GEE): checked whole and mapped to NaN for nodata in this pass.
        loc = block_info[0]["array-location"] if block_info else ((0, 0), (0, 0))
        offset = (loc[0][0], loc[1][0])
        block = float_codes(block, float_nodata, f"land cover {source!r}", offset=offset)
    idx = indexer(block)
    unknown = idx == LUT_UNKNOWN
    if unknown.any():
        found = sorted(int(c) for c in np.unique(np.asarray(block)[unknown]))
        raise UnknownClassError(
            f"land cover {source!r} holds codes {found} that class table {table_desc} does not "
            "list. Add them to a table file (--landcover-scheme my_table.csv; start from "
            "`soilmap schemes NAME`) or treat them as excluded (unknown = 'excluded' under "
            "[landcover], or --unknown-classes excluded)."
        )
    return idx.astype(dtype, copy=False)


def _one_hot(idx: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, *idx.shape), dtype="float32")
    for g in range(n_groups):
        out[g] = idx == g
    return out


def group_index_from_classes(
    classes: xr.DataArray,
    table: ClassTable,
    *,
    reference: Grid | None = None,
    unknown: Literal["error", "excluded"] = "error",
) -> xr.DataArray:
    """The land-use group of each cell of a class raster on the reference grid, lazily.

    On its own grid a class raster puts every cell wholly in one group: this index
    says which, and :func:`fractions_from_index` turns it into the 0/1 fractions.
    Consumers that know the fractions are 0/1 (the dominant group, scalar-rate
    projections, zonal sums) use the index directly, with one lookup per cell
    instead of one pass per group.

    Parameters
    ----------
    classes : xarray.DataArray
        Integer class codes, dims ``("y", "x")``.
    table : ClassTable
        Code → group table.
    reference : Grid, optional
        Grid the result must be on (checked).
    unknown : {"error", "excluded"}
        What to do with codes the table does not list.

    Returns
    -------
    xarray.DataArray
        Dims ``("y", "x")``, int8 (int16 past 127 groups): the position of the
        cell's group in ``attrs["groups"]``, or -1 where the land use is unknown
        (the file's or the table's nodata).  Codes missing from the table raise
        :class:`~soilmap.errors.UnknownClassError` when their block is computed.
    """
    source = str(classes.attrs.get("source", classes.name))
    if reference is not None:
        check_same_grid(
            reference,
            Grid.from_dataarray(classes, what=f"land cover {source!r}"),
            what=f"land cover {source!r}",
            reference_name="the SOC grid",
        )
    indexer = table.code_to_group_index(unknown)
    file_nodata = classes.attrs.get("nodata")
    lut = indexer.lut
    is_float = is_float_codes(classes.dtype)
    if (
        file_nodata is not None
        and not is_float
        and 0 <= int(file_nodata) < len(lut)
        and int(file_nodata) not in table.codes
    ):
        # The file's own nodata value is no data, never a class (nor an unknown
        # code counted as excluded), unless the table lists it as a class.
        lut = lut.copy()
        lut[int(file_nodata)] = LUT_NODATA
        indexer = GroupIndexer(lut=lut, groups=indexer.groups, fill=indexer.fill)
    groups = indexer.groups
    dtype = "int8" if len(groups) < 128 else "int16"
    data = classes.data
    if not isinstance(data, dsa.Array):
        data = dsa.from_array(np.asarray(data), chunks=data.shape)
    desc = f"{table.name!r} ({table.source})"
    float_nodata = file_nodata if is_float and file_nodata is not None else None
    idx = data.map_blocks(
        _group_index_block, indexer, desc, source, dtype, float_nodata, dtype=dtype
    )
    out = xr.DataArray(idx, dims=("y", "x"), coords={"y": classes["y"], "x": classes["x"]})
    out = out.rio.write_crs(classes.rio.crs)
    out.attrs = {
        "units": "1",
        "long_name": "land-use group index (-1: unknown)",
        "groups": list(groups),
        "source": source,
        "class_table": table.name,
        "history": classes.attrs.get("history", ""),
    }
    return append_history(out, f"group_index(table={table.name!r}, unknown={unknown!r})")


def fractions_from_index(index: xr.DataArray) -> xr.DataArray:
    """0/1 group fractions from a group index (see :func:`group_index_from_classes`).

    Returns
    -------
    xarray.DataArray
        Dims ``("group", "y", "x")``, float32: 1 in the cell's group, 0 elsewhere
        (0 in every group where the index is -1).
    """
    groups = list(index.attrs["groups"])
    data = index.data
    if isinstance(data, dsa.Array):
        frac = dsa.map_blocks(
            _one_hot,
            data,
            len(groups),
            dtype="float32",
            new_axis=0,
            chunks=((len(groups),), *data.chunks),
        )
    else:
        frac = _one_hot(np.asarray(data), len(groups))
    out = xr.DataArray(
        frac,
        dims=("group", "y", "x"),
        coords={"group": groups, "y": index["y"], "x": index["x"]},
    )
    if index.rio.crs is not None:
        out = out.rio.write_crs(index.rio.crs)
    out.attrs = {
        "units": "1",
        "long_name": "land-use group area fraction",
        **{k: index.attrs[k] for k in ("source", "class_table") if k in index.attrs},
        "history": index.attrs.get("history", ""),
    }
    return append_history(out, "fractions_from_index()")


def fractions_from_classes(
    classes: xr.DataArray,
    table: ClassTable,
    *,
    reference: Grid | None = None,
    unknown: Literal["error", "excluded"] = "error",
) -> xr.DataArray:
    """0/1 group fractions from a class raster already on the reference grid, lazily.

    :func:`fractions_from_index` of :func:`group_index_from_classes` (same
    parameters).  Codes missing from ``table`` raise
    :class:`~soilmap.errors.UnknownClassError` when the block holding them is
    computed (so the raster is never read twice); codes the table declares as
    nodata give a cell with no known land use (all fractions 0).

    Returns
    -------
    xarray.DataArray
        Dims ``("group", "y", "x")``, float32.
    """
    index = group_index_from_classes(classes, table, reference=reference, unknown=unknown)
    return fractions_from_index(index)


def uniform_fractions(like: xr.DataArray) -> xr.DataArray:
    """A single group :data:`ALL_LAND` covering every cell (no land cover given)."""
    ones = xr.ones_like(like, dtype="float32").expand_dims(group=[ALL_LAND])
    ones.attrs = {
        "units": "1",
        "long_name": "land-use group area fraction",
        "history": like.attrs.get("history", ""),
    }
    return append_history(ones, "uniform_fractions(): no land cover given, all land eligible")


def _dominant_block(frac: np.ndarray, codes: np.ndarray) -> np.ndarray:
    # A running maximum over the groups: one pass per group plane, where an argmax
    # over the first axis of a NaN-cleaned copy costs several passes more.  NaN
    # fractions count as 0: a comparison with NaN is False.
    best = np.where(frac[0] > 0, frac[0], np.float32(0))
    idx = np.zeros(best.shape, "uint8")
    for g in range(1, frac.shape[0]):
        better = frac[g] > best
        np.copyto(best, frac[g], where=better)
        np.copyto(idx, np.uint8(g), where=better)
    out = codes.astype("uint8")[idx]
    out[best <= 0] = NODATA_CODE  # no group with a positive share: no known land use
    return out


def _lookup(idx: np.ndarray, lut: np.ndarray) -> np.ndarray:
    return lut[idx]


def check_index_matches(fractions: xr.DataArray, index: xr.DataArray) -> None:
    """Raise ``ValueError`` unless ``index`` lists the groups of ``fractions``, in order."""
    groups = [str(g) for g in fractions["group"].values]
    if list(index.attrs.get("groups", ())) != groups:
        raise ValueError(
            f"the group index lists groups {index.attrs.get('groups')}, the fractions {groups}: "
            "pass the index the fractions were made from"
        )


def index_lookup(index: xr.DataArray, values: np.ndarray, *, missing: float) -> xr.DataArray:
    """``values[g]`` in every cell of group ``g``, ``missing`` where the index is -1, lazily.

    Parameters
    ----------
    index : xarray.DataArray
        Group index (see :func:`group_index_from_classes`).
    values : numpy.ndarray
        One value per group, in the order of ``index.attrs["groups"]``; the result
        has its dtype.
    missing : float
        Value of cells without a group.
    """
    values = np.asarray(values)
    # Index -1 picks the last entry: the missing value.
    lut = np.append(values, np.array(missing, dtype=values.dtype))
    data = index.data
    if isinstance(data, dsa.Array):
        out = dsa.map_blocks(_lookup, data, lut, dtype=lut.dtype)
    else:
        out = _lookup(np.asarray(data), lut)
    return xr.DataArray(out, dims=index.dims, coords=index.coords)


def dominant_group(
    fractions: xr.DataArray, codes: dict[str, int], *, group_index: xr.DataArray | None = None
) -> xr.DataArray:
    """Code of the group with the largest share of each cell (255 where none is known).

    Ties go to the group listed first.

    Parameters
    ----------
    fractions : xarray.DataArray
        Dims ``("group", "y", "x")``.
    codes : dict of str to int
        Raster code of each group.
    group_index : xarray.DataArray, optional
        When the fractions are the 0/1 fractions of this index (see
        :func:`group_index_from_classes`): the codes are then a lookup per cell.
    """
    code_vec = np.array([codes[str(g)] for g in fractions["group"].values], dtype="uint8")
    frac = fractions.transpose("group", "y", "x")
    if group_index is not None:
        check_index_matches(fractions, group_index)
        dom = index_lookup(group_index, code_vec, missing=NODATA_CODE).data
    else:
        data = frac.data
        if isinstance(data, dsa.Array):
            data = data.rechunk({0: -1})
            dom = data.map_blocks(_dominant_block, code_vec, drop_axis=0, dtype="uint8")
        else:
            dom = _dominant_block(np.asarray(data), code_vec)
    out = xr.DataArray(
        dom, dims=("y", "x"), coords={"y": frac["y"], "x": frac["x"]}, name="landuse"
    )
    if frac.rio.crs is not None:
        out = out.rio.write_crs(frac.rio.crs)
    out.attrs = {
        "units": "1",
        "long_name": "dominant land-use group",
        "flag_values": code_vec.tolist(),
        "flag_meanings": " ".join(str(g) for g in fractions["group"].values),
        "history": fractions.attrs.get("history", ""),
    }
    return append_history(out, "dominant_group()")


def landuse_codes(path: Path) -> dict[str, int]:
    """Group name → class code of a soilmap ``landuse.tif``.

    Read from the paletted ``<stem>.qml`` style soilmap writes beside it, else from
    the ``run.json`` of the same folder.

    Raises
    ------
    soilmap.errors.InputError
        If neither tells the codes.
    """
    qml = path.with_suffix(".qml")
    if qml.exists():
        entries = ET.parse(qml).getroot().iter("paletteEntry")
        codes = {e.get("label", ""): int(e.get("value", "0")) for e in entries}
        if codes:
            return codes
    manifest = path.parent / "run.json"
    if manifest.exists():
        codes = json.loads(manifest.read_text()).get("landcover", {}).get("group_codes")
        if codes:
            return {str(k): int(v) for k, v in codes.items()}
    raise InputError(
        f"land use {str(path)!r}: cannot tell which group each class code is (no "
        f"{qml.name} style or run.json beside it). Pass the landuse.tif of a soilmap run "
        "with its .qml, or a multi-band raster of group fractions (one band per group, "
        "band descriptions = group names)."
    )


def _class_fractions(codes: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    return np.stack([(codes == v).astype("float32") for v in values])


def open_landuse(path: Path, chunks: tuple[int, int] | None = None) -> xr.DataArray:
    """Land-use group fractions ``("group", "y", "x")`` from a fractions or class raster.

    A multi-band raster holds one group fraction (0–1) per band, named by the band
    descriptions; a single-band integer raster holds soilmap group codes (see
    :func:`landuse_codes`).  Lazy.
    """
    layout = read_layout(path, what="land use")
    chunks = chunks or tile_aligned_chunks(layout.block_shape, layout.grid.shape)
    da = rioxarray.open_rasterio(
        path, chunks={"band": -1, "y": chunks[0], "x": chunks[1]}, masked=False, lock=False
    )
    if not isinstance(da, xr.DataArray):  # one GeoTIFF is one variable: never a Dataset/list
        raise TypeError(f"land use {str(path)!r} opened as {type(da).__name__}, not a DataArray.")
    if layout.count > 1:
        names = da.attrs.get("long_name")
        names = list(names) if isinstance(names, tuple) else []
        if len(names) != layout.count or len(set(names)) != layout.count:
            names = [f"band{i + 1}" for i in range(layout.count)]
        frac = da.astype("float32")
        if layout.nodata is not None:
            frac = frac.where(da != layout.nodata)
        return frac.rename(band="group").assign_coords(group=names)
    if not np.issubdtype(np.dtype(layout.dtype), np.integer):
        raise InputError(
            f"land use {str(path)!r} is one band of {layout.dtype}: pass soilmap's landuse.tif "
            "(integer group codes) or a multi-band raster of group fractions."
        )
    codes = landuse_codes(path)
    codes = {g: c for g, c in codes.items() if c != NODATA_CODE}
    data = da.isel(band=0, drop=True).data
    values = tuple(codes.values())
    frac = dsa.map_blocks(
        _class_fractions,
        data,
        values,
        new_axis=0,
        chunks=((len(values),), *data.chunks),
        dtype="float32",
    )
    coords = {"group": list(codes), "y": da["y"], "x": da["x"], "spatial_ref": da["spatial_ref"]}
    return xr.DataArray(frac, dims=("group", "y", "x"), coords=coords)
