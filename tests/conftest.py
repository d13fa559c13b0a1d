from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from soilmap.sample import sample_data_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return sample_data_dir()


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
    cfg = load_config(sample_data_dir() / "tigray.toml").with_output(out)
    return run(cfg, progress=False)
