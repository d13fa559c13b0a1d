"""soilmap rothc point reproduces the official Rothamsted examples (dataset rothamsted_rothc)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner
from realdata import need_data

from soilmap.cli.main import cli
from soilmap.datasets import fetch

POOLS = ["DPM_t_C_ha", "RPM_t_C_ha", "BIO_t_C_ha", "HUM_t_C_ha", "IOM_t_C_ha", "SOC_t_C_ha"]


def _files() -> dict[str, Path]:
    paths = need_data(lambda: fetch("rothamsted_rothc"))
    return {str(k): Path(v) for k, v in dict(paths).items()}


def _path(name: str) -> Path:
    return next(p for k, p in _files().items() if k.endswith(name))


def _run(inp: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    res = CliRunner().invoke(cli, ["rothc", "point", str(inp), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return pd.read_csv(out / "year_results.csv"), pd.read_csv(out / "month_results.csv")


def _read_out(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, skipinitialspace=True)
    df.columns = [c.strip() for c in df.columns]
    return df


def test_python_release_to_1e_4(tmp_path):
    years, months = _run(_path("RothC_Py/RothC_input.dat"), tmp_path)
    ref_m = pd.read_csv(_path("RothC_Py/month_results.csv"))
    ref_y = pd.read_csv(_path("RothC_Py/year_results.csv"))
    assert len(months) == len(ref_m) == 828
    assert (months[["Year", "Month"]].to_numpy() == ref_m[["Year", "Month"]].to_numpy()).all()
    assert np.abs(months[POOLS].to_numpy() - ref_m[POOLS].to_numpy()).max() < 1e-4
    assert years["Month"][0] == ref_y["Month"][0] == 19872
    assert np.abs(years[POOLS].to_numpy() - ref_y[POOLS].to_numpy()).max() < 1e-4


def test_fortran_release_extended_layout_to_1e_3(tmp_path):
    years, months = _run(_path("RothC_Code/RothC_input.dat"), tmp_path)
    ref_m = _read_out(_path("RothC_Code/month_results.out")).iloc[2:].reset_index(drop=True)
    ref_y = _read_out(_path("RothC_Code/year_results.out")).iloc[1:].reset_index(drop=True)
    cols = [*POOLS, "CO2_t_C_ha", "SMD_mm", "RM_TMP", "RM_Moist", "RM_PC"]
    assert len(months) == len(ref_m)
    got, ref = months[cols].to_numpy(), ref_m[cols].astype(float).to_numpy()
    # SMD is printed with 2 decimals, the rest with 4 (RM_PC with 1)
    assert np.abs(got - ref).max() < 1e-2
    assert np.abs(got[:, :7] - ref[:, :7]).max() < 1e-3
    assert int(ref_y["Month"][0]) == years["Month"][0] == 20916
    assert np.abs(years[POOLS].to_numpy() - ref_y[POOLS].astype(float).to_numpy()).max() < 1e-3


def test_existing_results_are_not_replaced(tmp_path):
    inp = _path("RothC_Py/RothC_input.dat")
    _run(inp, tmp_path)
    res = CliRunner().invoke(cli, ["rothc", "point", str(inp), "--out", str(tmp_path)])
    assert res.exit_code == 3 and "OutputExistsError" in res.output
