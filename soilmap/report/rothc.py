"""The report's RothC section: attainable (RothC) versus aspirational (4 ‰) sequestration.

Read from ``<folder>/rothc/run.json`` (written by ``soilmap rothc run``) only; a folder
without it gets no section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from soilmap.report.html import e, table
from soilmap.report.summary import fmt

__all__ = ["rothc_section"]


def _share(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.1%}"


def rothc_section(folder: str | Path) -> str:
    """HTML of the RothC section, or ``""`` when ``folder`` has no RothC results."""
    path = Path(folder) / "rothc" / "run.json"
    if not path.exists():
        return ""
    m = json.loads(path.read_text(encoding="utf-8"))
    par = m.get("parameters", {})
    years, rate = par.get("years"), par.get("target_rate")
    rows = [
        (
            t["scenario"],
            f"{float(t['multiplier']):g}",
            fmt(t["area_ha"]),
            fmt(t["rothc_t_per_yr"]),
            fmt(t["target_t_per_yr"]),
            _share(t.get("attainable_share_of_target")),
        )
        for t in m.get("totals", [])
    ]
    status = m.get("cells", {}).get("status", {})
    counts = ", ".join(f"{e(k)}: {int(v):,}" for k, v in status.items() if v)
    body = table(
        (
            "scenario",
            "input multiplier",
            "calibrated area (ha)",
            "RothC t C/yr",
            "4 per 1000 target t C/yr",
            "attainable_share_of_target",
        ),
        rows,
        numeric=frozenset({1, 2, 3, 4, 5}),
    )
    return (
        '<h2 id="rothc">Attainable sequestration (RothC)</h2>'
        f"<p>RothC-26.3 per pixel, spun up to the observed stock, over {e(years)} years per "
        f"scenario; the target is {e(rate)} of the stock at t0 a year. "
        "<code>attainable_share_of_target</code> = RothC gain / target gain (maps and the "
        "regional table <code>rothc/rothc_stats</code> beside this report).</p>"
        + body
        + f'<p class="meta">Cells with SOC by calibration status: {counts}.</p>'
    )
