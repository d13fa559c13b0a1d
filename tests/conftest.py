from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import realdata
from realdata import need_data

from soilmap.datasets import mirror_dir
from soilmap.datasets.sample import sample_data_dir
from soilmap.errors import DatasetError

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realdata: reads the real-data fixtures of tests/realdata.py (built once, skipped "
        "with the reason when the datasets cannot be had and SOILMAP_DATA is unset)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Build realdata.DATA once if a selected test needs it; skip those tests if offline."""
    needing = [item for item in items if item.get_closest_marker("realdata")]
    if not needing:
        return
    try:
        realdata.build()
    except DatasetError as exc:
        if mirror_dir() is not None:  # a mirror was given (CI): its failure is an error
            raise pytest.UsageError(f"real test data from SOILMAP_DATA: {exc}") from exc
        skip = pytest.mark.skip(reason=str(exc))
        for item in needing:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return need_data(sample_data_dir)


@pytest.fixture
def sample_copy(tmp_path: Path, sample_dir: Path) -> Path:
    """A private copy of the sample folder (tests may edit or break files in it)."""
    dst = tmp_path / "sample"
    shutil.copytree(sample_dir, dst)
    return dst


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The bundled demo run, computed once per session."""
    from soilmap.config import load_config
    from soilmap.pipeline.run import run

    out = tmp_path_factory.mktemp("demo") / "out"
    cfg = load_config(need_data(sample_data_dir) / "tigray.toml").with_output(out)
    return run(cfg, progress=False)


@pytest.fixture
def render(tmp_path: Path):
    """Open a report.html in real headless Chromium: what loaded, its images, numbers, tables."""
    from report_browser import make_renderer

    return make_renderer(tmp_path)
