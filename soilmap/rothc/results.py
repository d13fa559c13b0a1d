"""``year_results.csv`` and ``month_results.csv`` with the official column names.

The columns are those of the Fortran release v2.0.0 (``month_results.out``,
``year_results.out``), which include the Python release's pool columns, so either
program's output can be compared column by column.  The radiocarbon column ``deltaC``
of the official outputs is not written: soilmap does not model radiocarbon.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from soilmap.errors import OutputExistsError
from soilmap.rothc.point import MONTH_COLUMNS, POOL_COLUMNS, PointResult

__all__ = ["MONTH_COLUMNS", "YEAR_COLUMNS", "write_results", "year_table"]

#: Columns of ``year_results.csv``.
YEAR_COLUMNS = ("Year", "Month", *POOL_COLUMNS)


def year_table(result: PointResult) -> pd.DataFrame:
    """The yearly table: the equilibrium row (Year 1, Month = spin-up months), then
    every December of the run (as both official releases write it)."""
    eq = result.equilibrium
    first = pd.DataFrame(
        [[1, result.spinup_months, *eq.tolist(), result.iom, float(eq.sum()) + result.iom, 0.0]],
        columns=list(YEAR_COLUMNS),
    )
    dec = result.months.loc[result.months["Month"] == 12, list(YEAR_COLUMNS)]
    return pd.concat([first, dec], ignore_index=True)


def _write_csv(frame: pd.DataFrame, path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False, float_format="%.10g")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_results(result: PointResult, out: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write ``year_results.csv`` and ``month_results.csv`` into ``out`` (atomically).

    Raises
    ------
    soilmap.errors.OutputExistsError
        A file exists and ``overwrite`` is false.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "year_results.csv", folder / "month_results.csv"]
    for p in paths:
        if p.exists() and not overwrite:
            raise OutputExistsError(f"{p} exists; pass --overwrite to replace it")
    _write_csv(year_table(result), paths[0], overwrite)
    _write_csv(result.months, paths[1], overwrite)
    return paths
