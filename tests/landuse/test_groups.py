"""Group names are checked: misspelt groups are refused with a did-you-mean suggestion."""

from __future__ import annotations

import pytest

from soilmap.errors import ClassTableError, ConfigError
from soilmap.landuse.groups import STANDARD_NAMES, check_names, edit_distance, suggest
from soilmap.landuse.schemes import list_schemes, load_class_table
from soilmap.landuse.table import STANDARD_GROUPS


def _table(tmp_path, body: str):
    p = tmp_path / "t.csv"
    p.write_text(body, encoding="utf-8")
    return p


def test_every_standard_group_and_preset_group_is_listed():
    assert set(STANDARD_GROUPS) <= set(STANDARD_NAMES)
    for name in list_schemes():
        assert set(load_class_table(name).group_names()) <= set(STANDARD_NAMES), name


def test_edit_distance_by_hand():
    assert edit_distance("croplnd", "cropland") == 1
    assert edit_distance("grasland", "grassland") == 1
    assert edit_distance("croplands", "cropland") == 1
    assert edit_distance("orchard", "cropland") > 2
    assert suggest("croplands") == "cropland"


def test_misspelt_table_group_is_refused(tmp_path):
    p = _table(tmp_path, "code,group\n10,croplnd\n20,forest\n")
    with pytest.raises(ClassTableError) as err:
        load_class_table(str(p))
    msg = str(err.value)
    assert str(p) in msg and "'croplnd'" in msg and "did you mean 'cropland'" in msg
    assert "# groups: croplnd" in msg


def test_declared_custom_group_close_to_a_standard_name(tmp_path):
    p = _table(tmp_path, "# groups: croplnd\ncode,group\n10,croplnd\n20,forest\n")
    assert "croplnd" in load_class_table(str(p)).group_names()


def test_a_custom_group_far_from_every_standard_name_needs_no_declaration(tmp_path):
    p = _table(tmp_path, "code,group\n10,orchard\n20,forest\n")
    assert load_class_table(str(p)).group_names() == ("forest", "orchard")


@pytest.mark.parametrize(("name", "close"), [("grasland", "grassland"), ("croplands", "cropland")])
def test_eligible_names_are_checked(name, close):
    with pytest.raises(ConfigError) as err:
        check_names(["cropland", name], ["cropland", "forest"], what="eligible", fix="--eligible")
    assert f"{name!r} is not a land-use group" in str(err.value)
    assert f"Did you mean {close!r}?" in str(err.value)
    check_names(["cropland", "orchard"], ["cropland", "orchard"], what="eligible", fix="x")
