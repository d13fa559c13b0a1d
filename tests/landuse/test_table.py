"""Tests for soilmap.classes: presets against the published legends, table files, lookups."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from soilmap.errors import ClassTableError, UnknownClassError, UnknownSchemeError
from soilmap.landuse.schemes import list_schemes, load_class_table
from soilmap.landuse.table import (
    DEFAULT_ELIGIBLE,
    LUT_NODATA,
    LUT_UNKNOWN,
    STANDARD_GROUPS,
    ClassTable,
    check_codes,
)

# --------------------------------------------------------------------------- #
# Official legends, transcribed from the published documents (not from the CSVs)
# --------------------------------------------------------------------------- #
# ESA WorldCover v100/v200, Product User Manual v2.0 legend table.
WORLDCOVER = {
    10: "Tree cover",
    20: "Shrubland",
    30: "Grassland",
    40: "Cropland",
    50: "Built-up",
    60: "Bare / sparse vegetation",
    70: "Snow and ice",
    80: "Permanent water bodies",
    90: "Herbaceous wetland",
    95: "Mangroves",
    100: "Moss and lichen",
}
WORLDCOVER_COLORS = {
    10: "#006400",
    20: "#ffbb22",
    30: "#ffff4c",
    40: "#f096ff",
    50: "#fa0000",
    60: "#b4b4b4",
    70: "#f0f0f0",
    80: "#0064c8",
    90: "#0096a0",
    95: "#00cf75",
    100: "#fae6a0",
}

# ESA CCI-LC, ESACCI-LC-Legend.csv (v2.0.7) / PUG v2.0 legend; 0 is "No data".
CCI = {
    10: "Cropland, rainfed",
    11: "Herbaceous cover",
    12: "Tree or shrub cover",
    20: "Cropland, irrigated or post-flooding",
    30: "Mosaic cropland (>50%) / natural vegetation (tree, shrub, herbaceous cover) (<50%)",
    40: "Mosaic natural vegetation (tree, shrub, herbaceous cover) (>50%) / cropland (<50%)",
    50: "Tree cover, broadleaved, evergreen, closed to open (>15%)",
    60: "Tree cover, broadleaved, deciduous, closed to open (>15%)",
    61: "Tree cover, broadleaved, deciduous, closed (>40%)",
    62: "Tree cover, broadleaved, deciduous, open (15-40%)",
    70: "Tree cover, needleleaved, evergreen, closed to open (>15%)",
    71: "Tree cover, needleleaved, evergreen, closed (>40%)",
    72: "Tree cover, needleleaved, evergreen, open (15-40%)",
    80: "Tree cover, needleleaved, deciduous, closed to open (>15%)",
    81: "Tree cover, needleleaved, deciduous, closed (>40%)",
    82: "Tree cover, needleleaved, deciduous, open (15-40%)",
    90: "Tree cover, mixed leaf type (broadleaved and needleleaved)",
    100: "Mosaic tree and shrub (>50%) / herbaceous cover (<50%)",
    110: "Mosaic herbaceous cover (>50%) / tree and shrub (<50%)",
    120: "Shrubland",
    121: "Shrubland evergreen",
    122: "Shrubland deciduous",
    130: "Grassland",
    140: "Lichens and mosses",
    150: "Sparse vegetation (tree, shrub, herbaceous cover) (<15%)",
    151: "Sparse tree (<15%)",
    152: "Sparse shrub (<15%)",
    153: "Sparse herbaceous cover (<15%)",
    160: "Tree cover, flooded, fresh or brakish water",
    170: "Tree cover, flooded, saline water",
    180: "Shrub or herbaceous cover, flooded, fresh/saline/brakish water",
    190: "Urban areas",
    200: "Bare areas",
    201: "Consolidated bare areas",
    202: "Unconsolidated bare areas",
    210: "Water bodies",
    220: "Permanent snow and ice",
}
# Groups of the CCI preset: the IPCC land categories of the CCI-LC PUG v2.0 conversion,
# except (issue 15) shrubland -> grassland (IPCC Grassland), 20 -> paddy, flooded forest and
# mangroves -> wetland (see tests/landuse/test_presets_ipcc.py).
CCI_IPCC = {
    "cropland": {10, 11, 12, 30, 40},
    "paddy": {20},
    "forest": {50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100},
    "grassland": {110, 120, 121, 122, 130},
    "sparse": {140, 150, 151, 152, 153},
    "wetland": {160, 170, 180},
    "excluded": {190, 200, 201, 202, 210, 220},
}

# CGLS-LC100 Collection 3, Product User Manual discrete classification legend.
CGLS = {
    20: "Shrubs",
    30: "Herbaceous vegetation",
    40: "Cultivated and managed vegetation/agriculture (cropland)",
    50: "Urban / built up",
    60: "Bare / sparse vegetation",
    70: "Snow and Ice",
    80: "Permanent water bodies",
    90: "Herbaceous wetland",
    100: "Moss and lichen",
    111: "Closed forest, evergreen needle leaf",
    112: "Closed forest, evergreen, broad leaf",
    113: "Closed forest, deciduous needle leaf",
    114: "Closed forest, deciduous broad leaf",
    115: "Closed forest, mixed",
    116: "Closed forest, unknown",
    121: "Open forest, evergreen needle leaf",
    122: "Open forest, evergreen broad leaf",
    123: "Open forest, deciduous needle leaf",
    124: "Open forest, deciduous broad leaf",
    125: "Open forest, mixed",
    126: "Open forest, unknown",
    200: "Open sea",
}

# MCD12Q1 collection 6 user guide, Table 3 (LC_Type1, IGBP); 255 = Unclassified.
MODIS_IGBP = {
    1: "Evergreen Needleleaf Forests",
    2: "Evergreen Broadleaf Forests",
    3: "Deciduous Needleleaf Forests",
    4: "Deciduous Broadleaf Forests",
    5: "Mixed Forests",
    6: "Closed Shrublands",
    7: "Open Shrublands",
    8: "Woody Savannas",
    9: "Savannas",
    10: "Grasslands",
    11: "Permanent Wetlands",
    12: "Croplands",
    13: "Urban and Built-up Lands",
    14: "Cropland/Natural Vegetation Mosaics",
    15: "Permanent Snow and Ice",
    16: "Barren",
    17: "Water Bodies",
}

# CORINE Land Cover level-3 nomenclature (EEA clc_legend.csv), code: (index, name, RGB).
CORINE = {
    111: (1, "Continuous urban fabric", (230, 0, 77)),
    112: (2, "Discontinuous urban fabric", (255, 0, 0)),
    121: (3, "Industrial or commercial units", (204, 77, 242)),
    122: (4, "Road and rail networks and associated land", (204, 0, 0)),
    123: (5, "Port areas", (230, 204, 204)),
    124: (6, "Airports", (230, 204, 230)),
    131: (7, "Mineral extraction sites", (166, 0, 204)),
    132: (8, "Dump sites", (166, 77, 0)),
    133: (9, "Construction sites", (255, 77, 255)),
    141: (10, "Green urban areas", (255, 166, 255)),
    142: (11, "Sport and leisure facilities", (255, 230, 255)),
    211: (12, "Non-irrigated arable land", (255, 255, 168)),
    212: (13, "Permanently irrigated land", (255, 255, 0)),
    213: (14, "Rice fields", (230, 230, 0)),
    221: (15, "Vineyards", (230, 128, 0)),
    222: (16, "Fruit trees and berry plantations", (242, 166, 77)),
    223: (17, "Olive groves", (230, 166, 0)),
    231: (18, "Pastures", (230, 230, 77)),
    241: (19, "Annual crops associated with permanent crops", (255, 230, 166)),
    242: (20, "Complex cultivation patterns", (255, 230, 77)),
    243: (
        21,
        "Land principally occupied by agriculture, with significant areas of natural vegetation",
        (230, 204, 77),
    ),
    244: (22, "Agro-forestry areas", (242, 204, 166)),
    311: (23, "Broad-leaved forest", (128, 255, 0)),
    312: (24, "Coniferous forest", (0, 166, 0)),
    313: (25, "Mixed forest", (77, 255, 0)),
    321: (26, "Natural grasslands", (204, 242, 77)),
    322: (27, "Moors and heathland", (166, 255, 128)),
    323: (28, "Sclerophyllous vegetation", (166, 230, 77)),
    324: (29, "Transitional woodland-shrub", (166, 242, 0)),
    331: (30, "Beaches, dunes, sands", (230, 230, 230)),
    332: (31, "Bare rocks", (204, 204, 204)),
    333: (32, "Sparsely vegetated areas", (204, 255, 204)),
    334: (33, "Burnt areas", (0, 0, 0)),
    335: (34, "Glaciers and perpetual snow", (166, 230, 204)),
    411: (35, "Inland marshes", (166, 166, 255)),
    412: (36, "Peat bogs", (77, 77, 255)),
    421: (37, "Salt marshes", (204, 204, 255)),
    422: (38, "Salines", (230, 230, 255)),
    423: (39, "Intertidal flats", (166, 166, 230)),
    511: (40, "Water courses", (0, 204, 242)),
    512: (41, "Water bodies", (128, 242, 230)),
    521: (42, "Coastal lagoons", (0, 255, 166)),
    522: (43, "Estuaries", (166, 255, 230)),
    523: (44, "Sea and ocean", (230, 242, 255)),
}

# GlobCover 2009 legend (Globcover2009_Legend.xls); 230 = No data.
GLOBCOVER = {
    11: "Post-flooding or irrigated croplands (or aquatic)",
    14: "Rainfed croplands",
    20: "Mosaic cropland (50-70%) / vegetation (grassland/shrubland/forest) (20-50%)",
    30: "Mosaic vegetation (grassland/shrubland/forest) (50-70%) / cropland (20-50%)",
    40: "Closed to open (>15%) broadleaved evergreen or semi-deciduous forest (>5m)",
    50: "Closed (>40%) broadleaved deciduous forest (>5m)",
    60: "Open (15-40%) broadleaved deciduous forest/woodland (>5m)",
    70: "Closed (>40%) needleleaved evergreen forest (>5m)",
    90: "Open (15-40%) needleleaved deciduous or evergreen forest (>5m)",
    100: "Closed to open (>15%) mixed broadleaved and needleleaved forest (>5m)",
    110: "Mosaic forest or shrubland (50-70%) / grassland (20-50%)",
    120: "Mosaic grassland (50-70%) / forest or shrubland (20-50%)",
    130: "Closed to open (>15%) (broadleaved or needleleaved, evergreen or deciduous) "
    "shrubland (<5m)",
    140: "Closed to open (>15%) herbaceous vegetation (grassland, savannas or lichens/mosses)",
    150: "Sparse (<15%) vegetation",
    160: "Closed to open (>15%) broadleaved forest regularly flooded (semi-permanently or "
    "temporarily) - Fresh or brackish water",
    170: "Closed (>40%) broadleaved forest or shrubland permanently flooded - Saline or "
    "brackish water",
    180: "Closed to open (>15%) grassland or woody vegetation on regularly flooded or "
    "waterlogged soil - Fresh, brackish or saline water",
    190: "Artificial surfaces and associated areas (Urban areas >50%)",
    200: "Bare areas",
    210: "Water bodies",
    220: "Permanent snow and ice",
}

PRESETS = {
    # name: (official legend {code: name}, nodata codes)
    "esa_worldcover": (WORLDCOVER, {0}),
    "esa_cci_lc": (CCI, {0}),
    "cgls_lc100": (CGLS, {0, 255}),
    "modis_igbp": (MODIS_IGBP, {255}),
    "corine": ({c: v[1] for c, v in CORINE.items()}, {999, 990, 995}),
    "corine_index": ({v[0]: v[1] for v in CORINE.values()}, {48, 49, 50, 128, 255}),
    "globcover_2009": (GLOBCOVER, {230}),
}


# --------------------------------------------------------------------------- #
# Presets
# --------------------------------------------------------------------------- #
def test_list_schemes_has_every_preset():
    assert set(list_schemes()) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_matches_published_legend(name):
    legend, nodata = PRESETS[name]
    table = load_class_table(name)
    assert dict(zip(table.codes, table.labels, strict=True)) == legend
    assert list(table.codes) == sorted(legend)  # legend order, no extras
    assert set(table.nodata) == nodata
    assert table.source == f"preset:{name}"
    assert table.name == name
    assert table.reference and table.title and table.product
    assert all(c.startswith("#") and len(c) == 7 for c in table.colors)
    assert set(table.groups) <= set(STANDARD_GROUPS)  # presets use standard groups only


def test_preset_nodata_labels():
    assert load_class_table("esa_cci_lc").nodata_labels == ("No data",)
    modis = load_class_table("modis_igbp")
    assert dict(zip(modis.nodata, modis.nodata_labels, strict=True)) == {255: "Unclassified"}
    glob = load_class_table("globcover_2009")
    assert glob.nodata_labels[0].startswith("No data")
    cgls = load_class_table("cgls_lc100")
    assert dict(zip(cgls.nodata, cgls.nodata_labels, strict=True))[0] == "No input data available"


def test_worldcover_colors_are_official():
    table = load_class_table("esa_worldcover")
    assert dict(zip(table.codes, table.colors, strict=True)) == WORLDCOVER_COLORS


@pytest.mark.parametrize("name", ["corine", "corine_index"])
def test_corine_colors_are_official(name):
    table = load_class_table(name)
    key = 0 if name == "corine" else 1
    expected = {
        (c if key == 0 else v[0]): "#{:02x}{:02x}{:02x}".format(*v[2]) for c, v in CORINE.items()
    }
    assert dict(zip(table.codes, table.colors, strict=True)) == expected


def test_corine_index_and_code_tables_agree():
    code, index = load_class_table("corine"), load_class_table("corine_index")
    assert code.labels == index.labels
    assert code.groups == index.groups


def test_cci_groups_follow_pug_ipcc_mapping():
    table = load_class_table("esa_cci_lc")
    got: dict[str, set[int]] = {}
    for c, g in zip(table.codes, table.groups, strict=True):
        got.setdefault(g, set()).add(c)
    assert got == CCI_IPCC


def test_key_group_mappings():
    corine = dict(
        zip(*(load_class_table("corine").codes, load_class_table("corine").groups), strict=True)
    )
    assert corine[213] == "paddy"
    assert corine[231] == "pasture"
    assert corine[321] == "grassland"
    assert corine[211] == "cropland"
    assert {corine[c] for c in (311, 312, 313)} == {"forest"}
    wc = load_class_table("esa_worldcover")
    wc_groups = dict(zip(wc.codes, wc.groups, strict=True))
    assert wc_groups[95] == "wetland"  # mangroves (IPCC Forest land, documented exception)
    assert wc_groups[20] == "grassland"  # shrubland is IPCC Grassland
    assert {wc_groups[c] for c in (50, 70, 80)} == {"excluded"}


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("cci", "esa_cci_lc"),
        ("CCI", "esa_cci_lc"),
        ("ESA-CCI-LC", "esa_cci_lc"),
        ("worldcover", "esa_worldcover"),
        ("WorldCover", "esa_worldcover"),
        ("modis", "modis_igbp"),
        ("clc", "corine"),
        ("globcover", "globcover_2009"),
        ("cgls", "cgls_lc100"),
        ("clc_index", "corine_index"),
    ],
)
def test_aliases_case_insensitive(alias, name):
    assert load_class_table(alias) is load_class_table(name)


def test_unknown_preset_lists_presets():
    with pytest.raises(UnknownSchemeError) as err:
        load_class_table("not_a_scheme")
    msg = str(err.value)
    for name in PRESETS:
        assert name in msg
    assert isinstance(err.value, ClassTableError)


def test_missing_file_lists_presets(tmp_path):
    with pytest.raises(UnknownSchemeError, match="esa_worldcover") as err:
        load_class_table(tmp_path / "nope.csv")
    assert "nope.csv" in str(err.value)


# --------------------------------------------------------------------------- #
# User tables
# --------------------------------------------------------------------------- #
def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_user_table_loads(tmp_path):
    path = write(
        tmp_path,
        "my_lc.csv",
        (
            "# title: My land cover\n"
            "# nodata: 0, 255\n"
            "code,group,label,color\n"
            '1,cropland,"Crops, annual",#FFFF00\n'
            "2,orchard,Orchards,\n"
            "3,forest,Forest,#006400\n"
            "4,orchard,Old orchards,\n"
            "5,vineyard,Vines,#800080\n"
        ),
    )
    table = load_class_table(path)
    assert table.name == "my_lc"
    assert table.source == str(path)
    assert table.title == "My land cover"
    assert table.codes == (1, 2, 3, 4, 5)
    assert table.labels[0] == "Crops, annual"
    assert table.colors[0] == "#ffff00"  # normalised to lower case
    assert table.colors[2] == "#006400"
    assert table.nodata == (0, 255)
    # Standard groups by code first, then user groups in order of appearance.
    assert table.group_names() == ("cropland", "forest", "orchard", "vineyard")
    assert table.group_code("orchard") == 20
    assert table.group_code("vineyard") == 21
    # Missing colours are filled from the group colour.
    assert table.colors[1] == table.group_color("orchard") == table.colors[3]
    assert load_class_table(str(path)) == table


def test_csv_optional_columns(tmp_path):
    path = write(tmp_path, "minimal.csv", "code,group\n10,cropland\n20,forest\n")
    table = load_class_table(path)
    assert table.labels == ("", "")
    assert table.colors == (STANDARD_GROUPS["cropland"].color, STANDARD_GROUPS["forest"].color)
    # Columns in another order, label only, and a "colour" spelling.
    path = write(tmp_path, "reordered.csv", "group,code,colour\ngrassland,7,#123abc\n")
    table = load_class_table(path)
    assert table.codes == (7,)
    assert table.colors == ("#123abc",)


def test_yaml_user_table_loads(tmp_path):
    pytest.importorskip("yaml")
    path = write(
        tmp_path,
        "tbl.yaml",
        (
            "name: regional\n"
            "source: my survey legend\n"
            "nodata: [0, {code: 99, label: clouds}]\n"
            "classes:\n"
            "  - {code: 1, group: cropland, label: Crops, color: '#ffff00'}\n"
            "  - {code: 2, group: pasture, label: Meadows}\n"
            "  - {code: 3, group: agroforestry}\n"
        ),
    )
    table = load_class_table(path)
    assert table.name == "regional"
    assert table.reference == "my survey legend"
    assert table.codes == (1, 2, 3)
    assert table.groups == ("cropland", "pasture", "agroforestry")
    assert table.nodata == (0, 99)
    assert table.nodata_labels == ("", "clouds")
    assert table.colors[0] == "#ffff00"
    assert table.group_code("agroforestry") == 20
    assert load_class_table(path.with_suffix(".yaml")) == table


def test_yml_suffix_and_bad_yaml(tmp_path):
    pytest.importorskip("yaml")
    good = write(tmp_path, "t.yml", "classes:\n  - code: 5\n    group: forest\n")
    assert load_class_table(good).codes == (5,)
    bad = write(tmp_path, "bad.yaml", "just: a mapping\n")
    with pytest.raises(ClassTableError, match="classes"):
        load_class_table(bad)


def test_duplicate_codes_named(tmp_path):
    path = write(
        tmp_path,
        "dup.csv",
        "code,group\n10,cropland\n20,forest\n10,grassland\n30,forest\n30,forest\n",
    )
    with pytest.raises(ClassTableError) as err:
        load_class_table(path)
    msg = str(err.value)
    assert "[10, 30]" in msg
    assert "dup.csv" in msg
    assert "line 2" in msg and "line 4" in msg


def test_nodata_code_also_a_class_is_duplicate(tmp_path):
    path = write(tmp_path, "dup2.csv", "# nodata: 10\ncode,group\n10,cropland\n")
    with pytest.raises(ClassTableError, match=r"\[10\]"):
        load_class_table(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("code,group,color\n1,cropland,red\n", "colour"),
        ("code,group,color\n1,cropland,#12345\n", "colour"),
        ("code,group\n1,Cropland\n", "group name"),
        ("code,group\n1,crop land\n", "group name"),
        ("code,group\n1,nodata_\n1,x\n", "duplicate"),
        ("code,label\n1,Crops\n", "group"),
        ("group,label\ncropland,Crops\n", "code"),
        ("code,group\n1.5,cropland\n", "not an integer"),
        ("code,group\nabc,cropland\n", "not an integer"),
        ("code,group\n-3,cropland\n", "outside 0..65535"),
        ("code,group\n70000,cropland\n", "outside 0..65535"),
        ("code,group\n", "no classes"),
        ("# only comments\n", "no header"),
        ("code,group,label\n1,cropland,Crops, rainfed\n", "Quote labels"),
    ],
)
def test_malformed_csv(tmp_path, text, match):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ClassTableError, match=match) as err:
        load_class_table(path)
    assert "bad.csv" in str(err.value)


def test_wrong_suffix(tmp_path):
    path = write(tmp_path, "table.txt", "code,group\n1,cropland\n")
    with pytest.raises(UnknownSchemeError, match=r"\.csv"):
        load_class_table(path)


def test_direct_construction_is_validated():
    with pytest.raises(ClassTableError, match="invalid group"):
        ClassTable("t", "test", (1,), ("Bad",), ("",), ("",))
    with pytest.raises(ClassTableError, match="no classes"):
        ClassTable("t", "test", (), (), (), ())
    table = ClassTable("t", "test", [3, 1], ["forest", "cropland"], ["a", "b"], ["", ""])
    assert table.codes == (3, 1)
    assert table.group_names() == ("cropland", "forest")


def test_to_csv_round_trip(tmp_path):
    table = load_class_table("esa_cci_lc")
    path = table.to_csv(tmp_path / "copy.csv")
    again = load_class_table(path)
    assert again.codes == table.codes
    assert again.groups == table.groups
    assert again.labels == table.labels
    assert again.colors == table.colors
    assert again.nodata == table.nodata
    assert again.name == table.name


# --------------------------------------------------------------------------- #
# Groups
# --------------------------------------------------------------------------- #
def test_group_codes_are_stable():
    table = load_class_table("corine")
    assert table.group_code("excluded") == 0
    assert table.group_code("cropland") == 1
    assert table.group_code("grassland") == 2
    assert table.group_code("forest") == 3
    assert table.group_code("pasture") == 4
    assert table.group_code("paddy") == 5
    assert table.group_code("shrubland") == 6
    assert table.group_code("sparse") == 7
    assert table.group_code("wetland") == 8
    # Standard codes hold even for a table that does not use the group.
    assert load_class_table("modis_igbp").group_code("paddy") == 5


def test_user_group_gets_20():
    table = ClassTable(
        "t", "test", (1, 2, 3), ("orchard", "forest", "hedges"), ("", "", ""), ("", "", "")
    )
    assert table.group_code("orchard") == 20
    assert table.group_code("hedges") == 21
    assert table.group_codes() == {"forest": 3, "orchard": 20, "hedges": 21}
    with pytest.raises(ClassTableError, match="orchard"):
        table.group_code("vineyard")


def test_default_eligible():
    assert DEFAULT_ELIGIBLE == ("cropland", "grassland", "pasture", "paddy", "forest")
    assert "excluded" not in DEFAULT_ELIGIBLE


def test_to_frame():
    frame = load_class_table("esa_worldcover").to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "code",
        "group",
        "group_code",
        "label",
        "color",
        "nodata",
        "ipcc",
    ]
    assert len(frame) == 12  # 11 classes + nodata 0 (from the header, so no label)
    assert frame["nodata"].tolist() == [False] * 11 + [True]
    assert frame.iloc[-1][["code", "group", "label"]].tolist() == [0, "nodata", ""]
    row = frame.set_index("code").loc[40]
    assert (row["group"], row["group_code"], row["label"]) == ("cropland", 1, "Cropland")
    cci = load_class_table("esa_cci_lc").to_frame()
    assert cci["nodata"].sum() == 1
    assert cci.loc[cci["nodata"], "group_code"].item() == 255


# --------------------------------------------------------------------------- #
# check_codes
# --------------------------------------------------------------------------- #
def test_check_codes_unknown_raises_naming_codes_and_table():
    table = load_class_table("esa_worldcover")
    with pytest.raises(UnknownClassError) as err:
        check_codes(table, [10, 40, 7, 0, 3, 7, 3], what="land cover 'lc.tif'")
    msg = str(err.value)
    assert "[3, 7]" in msg
    assert "esa_worldcover" in msg and "preset:esa_worldcover" in msg
    assert "lc.tif" in msg
    assert "unknown='excluded'" in msg
    assert "table file" in msg


def test_check_codes_passes():
    table = load_class_table("esa_worldcover")
    check_codes(table, np.array([[10, 40], [0, 95]], dtype="uint8"))
    check_codes(table, np.array([10.0, np.nan]))  # NaN = masked nodata
    check_codes(table, [3, 7], unknown="excluded")
    check_codes(table, [])


def test_check_codes_bad_unknown_argument():
    with pytest.raises(ValueError, match="unknown"):
        check_codes(load_class_table("esa_worldcover"), [10], unknown="ignore")


# --------------------------------------------------------------------------- #
# Lookup arrays
# --------------------------------------------------------------------------- #
def test_lookup_array_maps_block():
    table = load_class_table("esa_worldcover")
    lut, groups = table.lookup_array()
    assert lut.dtype == np.int16
    assert groups == table.group_names()
    assert len(lut) >= 256
    block = np.array([[40, 10, 0], [95, 7, 80]], dtype="uint8")
    idx = lut[block]
    expected = np.array(
        [
            [groups.index("cropland"), groups.index("forest"), LUT_NODATA],
            # 95 mangroves: IPCC Forest land, group wetland (a documented exception)
            [groups.index("wetland"), LUT_UNKNOWN, groups.index("excluded")],
        ]
    )
    np.testing.assert_array_equal(idx, expected)
    assert (LUT_NODATA, LUT_UNKNOWN) == (-1, -2)
    with pytest.raises(ValueError):
        lut[0] = 3  # shared read-only array


def test_lookup_array_unknown_excluded():
    # A table without an excluded class gains one when unknown="excluded".
    table = ClassTable("t", "test", (1, 2), ("cropland", "forest"), ("", ""), ("", ""), nodata=(9,))
    lut, groups = table.lookup_array(unknown="error")
    assert groups == ("cropland", "forest")
    lut_x, groups_x = table.lookup_array(unknown="excluded")
    assert groups_x == ("excluded", "cropland", "forest")
    block = np.array([1, 2, 9, 5])
    np.testing.assert_array_equal(lut[block], [0, 1, -1, -2])
    np.testing.assert_array_equal(lut_x[block], [1, 2, -1, 0])


def test_code_to_group_index_handles_out_of_range_and_nan():
    table = load_class_table("esa_worldcover")
    indexer = table.code_to_group_index()
    groups = indexer.groups
    out = indexer(np.array([40, 1000, -5], dtype="int32"))
    np.testing.assert_array_equal(out, [groups.index("cropland"), -2, -2])
    out = indexer(np.array([10.0, np.nan]))
    np.testing.assert_array_equal(out, [groups.index("forest"), -1])
    excl = table.code_to_group_index(unknown="excluded")
    np.testing.assert_array_equal(excl(np.array([7, 60000])), [groups.index("excluded")] * 2)
    assert pickle.loads(pickle.dumps(indexer))(np.array([40]))[0] == groups.index("cropland")
