"""The bundled sample data (Tigray, Ethiopia): where it is, and its run config."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from soilmap.errors import InputNotFoundError

__all__ = ["SAMPLE_CONFIG", "sample_data_dir"]

#: Run configuration of the bundled sample, inside the sample folder.
SAMPLE_CONFIG = "tigray.toml"


def sample_data_dir() -> Path:
    """Folder holding the sample data.

    A wheel carries it inside the package (``soilmap/sample_data``); an editable
    install or a source checkout has it at the repository root (``sample_data/``).
    """
    packaged = Path(str(resources.files("soilmap"))) / "sample_data"
    candidates = [packaged, Path(__file__).resolve().parents[1] / "sample_data"]
    for c in candidates:
        if (c / SAMPLE_CONFIG).exists():
            return c
    raise InputNotFoundError(
        "soilmap's sample data is not installed (looked in "
        f"{', '.join(str(c) for c in candidates)}). Reinstall soilmap from its repository "
        "(pip install .) so that sample_data/ is included."
    )
