"""The official ``RothC_input.dat`` layouts (Rothamsted RothC_Py and RothC_Code v2.0.0).

Standard layout (RothC_Py)::

    3 lines of text
    clay  depth  iom  nsteps
    13.0  25.0   3.0041  840
    1 line of units
    year  month  modern  Tmp  Rain  Evap  C_inp  FYM  PC  DPM_RPM
    ... nsteps monthly rows

Extended layout (RothC_Code v2.0.0, Farina et al. 2013 options)::

    3 lines of text
    opt_RMmoist  opt_SMDbare
    1            1
    2 lines of text
    clay  depth  iom  nsteps  siltper  BD  OC  minRM_Moist
    ...   (with opt_RMmoist = 1 only the first four values are read)
    2 lines of text, then the monthly rows as above

The first 12 rows drive the spin-up; rows 13 to ``nsteps`` are the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from soilmap.errors import InputNotFoundError, RothCInputError

#: Monthly columns of the file, in order.
MONTH_COLUMNS = ("year", "month", "modern", "Tmp", "Rain", "Evap", "C_inp", "FYM", "PC", "DPM_RPM")


@dataclass(frozen=True)
class PointInput:
    """One site's RothC input, as the official file holds it.

    Attributes
    ----------
    clay : float
        Clay, %.
    depth : float
        Topsoil depth, cm.
    iom : float
        Inert organic matter, t C ha-1.
    nsteps : int
        Number of monthly rows (the first 12 are the spin-up year).
    months : dict of numpy.ndarray
        The monthly columns (:data:`MONTH_COLUMNS`): Tmp °C, Rain and Evap (open pan)
        mm, C_inp and FYM t C ha-1 per month, PC 0/1, DPM_RPM ratio, modern %.
    opt_rmmoist, opt_smdbare : int
        Moisture options (1, 1 in the standard layout).
    silt, bulk_density, oc : float or None
        Silt %, bulk density g cm-3, organic carbon % (extended layout).
    min_rm_moist : float
        Minimum moisture modifier (0.2 unless the extended layout states it).
    extended : bool
        ``True`` when read from the extended layout.
    """

    clay: float
    depth: float
    iom: float
    nsteps: int
    months: dict[str, npt.NDArray[np.float64]]
    opt_rmmoist: int = 1
    opt_smdbare: int = 1
    silt: float | None = None
    bulk_density: float | None = None
    oc: float | None = None
    min_rm_moist: float = 0.2
    extended: bool = False


def _numbers(line: str, path: Path, lineno: int) -> list[float]:
    try:
        return [float(t) for t in line.replace(",", " ").split()]
    except ValueError:
        raise RothCInputError(
            f"{path}: line {lineno} should hold numbers but reads {line.strip()!r}; "
            "see soilmap.rothc.inputfile for the RothC_input.dat layouts"
        ) from None


def read_input(path: str | Path) -> PointInput:
    """Read a ``RothC_input.dat`` in the standard or extended layout.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Raises
    ------
    soilmap.errors.InputNotFoundError
        No such file.
    soilmap.errors.RothCInputError
        The file does not follow either layout, has fewer rows than ``nsteps`` or fewer
        than 12, or holds impossible values (clay outside 0–100 %, depth ≤ 0, PC not 0/1).
    """
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"{p}: no such RothC input file")
    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    extended = len(lines) > 4 and "opt_rmmoist" in lines[3].lower()
    opts = (1, 1)
    head_at = 4
    if extended:
        o = _numbers(lines[4], p, 5)
        if len(o) < 2:
            raise RothCInputError(f"{p}: line 5 should give opt_RMmoist and opt_SMDbare")
        opts = (int(o[0]), int(o[1]))
        head_at = 7
    if len(lines) <= head_at + 3:
        raise RothCInputError(f"{p}: too short for a RothC_input.dat ({len(lines)} lines)")
    soil = _numbers(lines[head_at], p, head_at + 1)
    need = 4 if opts[0] == 1 else 8
    if len(soil) < need:
        raise RothCInputError(
            f"{p}: line {head_at + 1} gives {len(soil)} soil values, {need} are needed "
            "(clay, depth, iom, nsteps" + (", siltper, BD, OC, minRM_Moist)" if need == 8 else ")")
        )
    nsteps = int(soil[3])
    rows = [
        _numbers(line, p, head_at + 4 + i)
        for i, line in enumerate(lines[head_at + 3 :])
        if line.strip()
    ]
    if nsteps < 12 or len(rows) < nsteps:
        raise RothCInputError(
            f"{p}: nsteps = {nsteps} but {len(rows)} monthly rows follow; at least 12 "
            "rows (the spin-up year) and nsteps rows are needed"
        )
    table = np.array([r[: len(MONTH_COLUMNS)] for r in rows[:nsteps]], dtype=np.float64)
    if table.shape[1] != len(MONTH_COLUMNS):
        raise RothCInputError(f"{p}: monthly rows need the columns {', '.join(MONTH_COLUMNS)}")
    months = {name: table[:, i] for i, name in enumerate(MONTH_COLUMNS)}
    clay, depth = soil[0], soil[1]
    if not (0.0 <= clay <= 100.0) or depth <= 0.0:
        raise RothCInputError(f"{p}: clay {clay} % must be in 0–100 and depth {depth} cm > 0")
    if not np.isin(months["PC"], (0.0, 1.0)).all():
        raise RothCInputError(f"{p}: PC (plant cover) must be 0 or 1 in every month")
    ext = {}
    if opts[0] != 1:
        ext = {"silt": soil[4], "bulk_density": soil[5], "oc": soil[6], "min_rm_moist": soil[7]}
    return PointInput(
        clay=clay,
        depth=depth,
        iom=soil[2],
        nsteps=nsteps,
        months=months,
        opt_rmmoist=opts[0],
        opt_smdbare=opts[1],
        extended=extended,
        **ext,
    )
