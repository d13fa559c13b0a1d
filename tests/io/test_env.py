"""soilmap's GDAL settings: remote reads retry transient failures; the user's own win."""

from __future__ import annotations

import rasterio.env

from soilmap.io.env import gdal_env


def test_remote_reads_retry_transient_failures_by_default(monkeypatch):
    monkeypatch.delenv("GDAL_HTTP_MAX_RETRY", raising=False)
    monkeypatch.delenv("GDAL_HTTP_RETRY_DELAY", raising=False)
    with gdal_env():
        opts = rasterio.env.getenv()
    assert opts["GDAL_HTTP_MAX_RETRY"] == "4" and opts["GDAL_HTTP_RETRY_DELAY"] == "0.5"


def test_the_users_retry_settings_win(monkeypatch):
    # Set in the environment: soilmap does not set them, so GDAL reads the user's.
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "10")
    with gdal_env():
        opts = rasterio.env.getenv()
    assert "GDAL_HTTP_MAX_RETRY" not in opts and "GDAL_HTTP_RETRY_DELAY" not in opts
