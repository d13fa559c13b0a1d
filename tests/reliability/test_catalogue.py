"""The catalogue of faults a user can cause, against an earlier result in the folder.

Every case runs ``soilmap run tiny.toml --out <a folder holding an earlier result>
--overwrite`` with one thing broken, and asserts: the error class and exit code,
one ``Error:`` line naming the file (or flag) and the fix, no traceback, no
staging folder or other file left behind, and every file of the earlier result
sha256-identical.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from tiny import make_tiny, one_line_error, regions, run_cli, staging_left, tree


@pytest.fixture(scope="module")
def earlier(tmp_path_factory) -> Path:
    """The tiny inputs and a finished run of them in ``out/``."""
    d = tmp_path_factory.mktemp("earlier")
    cfg = make_tiny(d)
    r = run_cli("-q", "run", cfg, "--out", d / "out")
    assert r.exit_code == 0, r.stderr
    return d


def _write(path: Path, data: bytes) -> list[str]:
    path.write_bytes(data)
    return []


def _truncate(path: Path) -> list[str]:
    path.write_bytes(path.read_bytes()[:600])
    return []


def _ids(d: Path, ids) -> list[str]:
    regions(ids).to_file(d / "regions.gpkg", layer="regions")
    return []


def _points(d: Path) -> list[str]:
    g = regions()
    g.geometry = g.geometry.centroid
    g.to_file(d / "regions.gpkg", layer="regions")
    return []


def _no_crs(d: Path) -> list[str]:
    g = regions()
    (d / "regions.gpkg").unlink()
    gpd.GeoDataFrame(g.drop(columns="geometry"), geometry=list(g.geometry)).to_file(
        d / "regions.geojson", driver="GeoJSON"
    )
    # GeoJSON is WGS 84 by definition: a shapefile without .prj has no CRS.
    gpd.GeoDataFrame(g.drop(columns="geometry"), geometry=list(g.geometry)).to_file(
        d / "regions.shp"
    )
    return ["--regions", d / "regions.shp", "--region-id", "rid"]


def _bad_mask(d: Path) -> list[str]:
    (d / "mask.gpkg").write_bytes(b"SQLite format 3\0 not a database")
    return [
        "--landcover",
        d / "landcover.tif",
        "--landcover-scheme",
        "esa_worldcover",
        "--exclude",
        d / "mask.gpkg",
    ]


def _toml(d: Path, old: str, new: str) -> list[str]:
    cfg = d / "tiny.toml"
    cfg.write_text(cfg.read_text().replace(old, new))
    return []


Fault = Callable[[Path], list]

#: (case, fault, error class, exit code, words the message must hold; {d} = inputs)
CASES: list[tuple[str, Fault, str, int, list[str]]] = [
    (
        "regions-truncated",
        lambda d: _write(d / "regions.gpkg", b"SQLite format 3\0 truncated"),
        "InputError",
        1,
        ["regions.gpkg", "cannot be read", "re-export"],
    ),
    (
        "regions-half-file",
        lambda d: _truncate(d / "regions.gpkg"),
        "InputError",
        1,
        ["regions.gpkg", "cannot be read", "re-export"],
    ),
    (
        "regions-wrong-layer",
        lambda d: ["--regions-layer", "provinces"],
        "InputError",
        1,
        ["regions.gpkg", "provinces", "--regions-layer"],
    ),
    (
        "regions-null-id",
        lambda d: _ids(d, ["A", None]),
        "InputError",
        1,
        ["regions.gpkg", "NULL or empty", "rows 2", "--missing-ids drop"],
    ),
    (
        "regions-empty-id",
        lambda d: _ids(d, [" ", "B"]),
        "InputError",
        1,
        ["regions.gpkg", "NULL or empty", "rows 1", "--missing-ids drop"],
    ),
    (
        "regions-all-ids-missing-dropped",
        lambda d: [*_ids(d, [None, ""]), "--missing-ids", "drop"],
        "InputError",
        1,
        ["regions.gpkg", "no feature has a 'rid'", "another id field"],
    ),
    (
        "regions-duplicate-ids",
        lambda d: _ids(d, ["A", "A"]),
        "InputError",
        1,
        ["regions.gpkg", "not unique", "duplicate_ids"],
    ),
    (
        "regions-no-such-field",
        lambda d: ["--region-id", "ADM1_PCODE"],
        "InputError",
        1,
        ["regions.gpkg", "ADM1_PCODE", "Its fields are: rid, name"],
    ),
    (
        "regions-missing-file",
        lambda d: ["--regions", d / "nowhere.gpkg", "--region-id", "rid"],
        "InputNotFoundError",
        1,
        ["nowhere.gpkg", "Check the path"],
    ),
    (
        "regions-points",
        _points,
        "InputError",
        1,
        ["regions.gpkg", "Point", "polygons"],
    ),
    (
        "regions-without-crs",
        _no_crs,
        "CRSError",
        1,
        ["regions.shp", "no coordinate reference system", "--regions-crs EPSG:4326"],
    ),
    (
        "regions-crs-unknown",
        lambda d: ["--regions-crs", "EPSG:99999"],
        "ConfigError",
        2,
        ["--regions-crs", "EPSG:99999", "crs not found", "Give an EPSG code"],
    ),
    (
        "regions-crs-garbage",
        lambda d: ["--regions-crs", "not a crs"],
        "ConfigError",
        2,
        ["--regions-crs", "'not a crs'", "Give an EPSG code"],
    ),
    (
        "bbox-crs-unknown",
        lambda d: ["--bbox", "0", "0", "1", "1", "--bbox-crs", "EPSG:99999"],
        "ConfigError",
        2,
        ["--bbox-crs", "EPSG:99999", "crs not found", "Give an EPSG code"],
    ),
    (
        "exclude-mask-corrupt",
        _bad_mask,
        "InputError",
        1,
        ["mask.gpkg", "cannot be read", "--exclude"],
    ),
    (
        "soc-truncated",
        lambda d: _truncate(d / "stock.tif"),
        "InputError",
        1,
        ["stock.tif"],
    ),
    (
        "soc-missing",
        lambda d: ["--soc", d / "gone.tif", "--soc-units", "t C ha-1"],
        "InputNotFoundError",
        1,
        ["gone.tif", "Check the path"],
    ),
    (
        "soc-units-unknown",
        lambda d: _toml(d, 'units = "t C ha-1"', 'units = "bananas"'),
        "UnitsError",
        1,
        ["bananas", "t C ha-1"],
    ),
    (
        "config-unknown-key",
        lambda d: _toml(d, "[scenario]\n", "[scenario]\nrates = 0.004\n"),
        "ConfigError",
        2,
        ["tiny.toml", "rates", "allowed"],
    ),
    (
        "config-string-for-bool",
        lambda d: _toml(d, 'dir = "out"', 'dir = "out"\noverwrite = "no"'),
        "ConfigError",
        2,
        ["tiny.toml", "overwrite", "true or false"],
    ),
    (
        "rate-unit-slip",
        lambda d: ["--rate", "4"],
        "ConfigError",
        2,
        ["--rate", "0.004"],
    ),
    (
        "missing-ids-bad-value",
        lambda d: _toml(d, 'id_field = "rid"', 'id_field = "rid"\nmissing_ids = "skip"'),
        "ConfigError",
        2,
        ["missing_ids", "'error' or 'drop'"],
    ),
]


@pytest.mark.parametrize(
    ("fault", "cls", "code", "words"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_fault_keeps_the_earlier_result(earlier, tmp_path, fault, cls, code, words):
    d = tmp_path / "in"
    shutil.copytree(earlier, d, ignore=shutil.ignore_patterns("out"))
    out = tmp_path / "out"
    shutil.copytree(earlier / "out", out)
    before = tree(out)
    extra = fault(d)
    r = run_cli("run", d / "tiny.toml", "--out", out, "--overwrite", *extra)
    assert r.exit_code == code, r.stderr
    one_line_error(r.stderr, cls, *[w.format(d=d) for w in words])
    assert tree(out) == before
    assert staging_left(out) == []
    assert not (out / ".soilmap.lock").exists()


def test_existing_result_without_overwrite(earlier, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(earlier / "out", out)
    before = tree(out)
    r = run_cli("run", earlier / "tiny.toml", "--out", out)
    assert r.exit_code == 3
    one_line_error(r.stderr, "OutputExistsError", str(out), "--overwrite", "another --out")
    assert tree(out) == before and staging_left(out) == []


def test_missing_ids_drop_reads_the_others(tmp_path):
    """--missing-ids drop: the features without an id are left out and reported."""
    from soilmap.io.vector import read_regions

    g = regions(["A", None])
    g = gpd.GeoDataFrame(
        {"rid": ["A", None, ""], "name": ["W", "E", "X"]},
        geometry=[*g.geometry, shapely.box(0, 0, 1, 1)],
        crs=g.crs,
    )
    g.to_file(tmp_path / "r.gpkg")
    with pytest.raises(Exception, match=r"2 feature\(s\) have a NULL or empty 'rid' \(rows 2, 3"):
        read_regions(tmp_path / "r.gpkg", id_field="rid")
    got, report = read_regions(tmp_path / "r.gpkg", id_field="rid", missing_ids="drop")
    assert list(got["region_id"]) == ["A"]
    assert report.dropped_missing_ids == (2, 3)
