"""The ``render`` fixture: a report.html opened in real headless Chromium."""

from report_browser import render

__all__ = ["render"]
