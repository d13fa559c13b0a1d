"""Every preset's ``ipcc`` column against its product's published legend (issue 15).

For each product the legend is transcribed below from its documentation (not from the
CSVs): the class, the part of its published definition that decides the IPCC (2006)
land category, and the category.  The rules applied to those definitions:

* IPCC (2006) Guidelines, Vol. 4, Ch. 3, Section 3.2.1: Forest land is land with woody
  vegetation above the national forest thresholds (FAO: tree crown cover > 10 %);
  Grassland includes "systems with woody vegetation and other non-grass vegetation such
  as herbs and brushes that fall below the threshold values used in the Forest Land
  category" (so shrubland is Grassland); Wetlands include peatlands and land covered or
  saturated by water, with reservoirs, natural rivers and lakes; Settlements all
  developed land; Other land bare soil, rock, ice and land in no other category.
* Flooded forests and mangroves keep their category (Forest land) but go to the
  ``wetland`` group (opt-in): a documented exception; open water (Wetlands) goes to
  ``excluded``: a documented exception too.

Then every group must follow its category (:data:`soilmap.landuse.ipcc.IPCC_GROUPS`)
except the classes named by the preset's ``# exception`` lines, which must be exactly
the departures.
"""

from __future__ import annotations

import pytest

from soilmap.errors import ClassTableError
from soilmap.landuse.ipcc import IPCC_CATEGORIES, IPCC_GROUPS, follows
from soilmap.landuse.schemes import list_schemes, load_class_table
from soilmap.landuse.table import DEFAULT_ELIGIBLE

F, C, G, W, S, O = IPCC_CATEGORIES  # noqa: E741

# ESA WorldCover 10 m v100/v200: Product User Manual v2.0 (Zanaga et al. 2022), land cover
# legend and class definitions (https://esa-worldcover.s3.eu-central-1.amazonaws.com/v200/
# 2021/docs/WorldCover_PUM_V2.0.pdf).
WORLDCOVER = {
    10: ("Tree cover", "trees with a cover of 10 % or more", F),
    20: ("Shrubland", "natural shrubs >= 10 % cover, trees < 10 %", G),
    30: ("Grassland", "natural herbaceous plants >= 10 %, no trees/shrubs >= 10 %", G),
    40: ("Cropland", "annual cropland sowed/planted and harvestable", C),
    50: ("Built-up", "buildings, roads and other man-made structures", S),
    60: ("Bare / sparse vegetation", "vegetation cover never > 10 %", O),
    70: ("Snow and ice", "snow and/or ice all year", O),
    80: ("Permanent water bodies", "water bodies, most of the year", W),
    90: (
        "Herbaceous wetland",
        "natural herbaceous vegetation, permanently or regularly flooded",
        W,
    ),
    95: ("Mangroves", "taxonomically diverse, salt-tolerant tree and shrub communities", F),
    100: ("Moss and lichen", "land covered with lichens and/or mosses", O),
}

# Copernicus CGLS-LC100 Collection 3, Product User Manual (Buchhorn et al. 2020,
# doi:10.5281/zenodo.3938963), discrete classification legend.
CGLS = {
    20: ("Shrubs", "woody perennials 0.3-5 m, trees < 15 %", G),
    30: ("Herbaceous vegetation", "plants without persistent stem, trees/shrubs < 10 %", G),
    40: ("Cultivated and managed vegetation/agriculture (cropland)", "cropland", C),
    50: ("Urban / built up", "buildings and artificial surfaces", S),
    60: ("Bare / sparse vegetation", "vegetation < 10 % all year", O),
    70: ("Snow and Ice", "snow or ice all year", O),
    80: ("Permanent water bodies", "lakes, reservoirs, rivers", W),
    90: ("Herbaceous wetland", "herbaceous vegetation on permanently or regularly flooded land", W),
    100: ("Moss and lichen", "moss and lichen", O),
    **{c: ("Closed forest", "tree canopy > 70 %", F) for c in range(111, 117)},
    **{c: ("Open forest", "tree canopy 15-70 %", F) for c in range(121, 127)},
    200: ("Open sea", "oceans and seas (no land: reported with the water surfaces)", W),
}

# ESA CCI-LC 300 m: Product User Guide v2.0 (2017) legend, and its own LCCS -> IPCC
# conversion table (categories Agriculture, Forest, Grassland, Wetland, Settlement, Other).
CCI = {
    **{
        c: ("cropland", "rainfed / irrigated / post-flooding cropland, crop mosaics", C)
        for c in (10, 11, 12, 20, 30, 40)
    },
    **{
        c: ("tree cover", "tree cover > 15 %", F)
        for c in (50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100)
    },
    110: ("mosaic herbaceous (>50 %) / tree and shrub", "below forest thresholds", G),
    120: ("Shrubland", "shrubs, below forest thresholds", G),
    121: ("Shrubland evergreen", "shrubs, below forest thresholds", G),
    122: ("Shrubland deciduous", "shrubs, below forest thresholds", G),
    130: ("Grassland", "herbaceous", G),
    140: ("Lichens and mosses", "PUG: Other (sparse vegetation)", O),
    **{c: ("sparse vegetation", "vegetation < 15 %", O) for c in (150, 151, 152, 153)},
    160: ("Tree cover, flooded, fresh or brakish water", "tree cover > 15 %", F),
    170: ("Tree cover, flooded, saline water", "mangroves, tree cover > 15 %", F),
    180: ("Shrub or herbaceous cover, flooded", "flooded vegetation", W),
    190: ("Urban areas", "artificial surfaces", S),
    **{c: ("bare areas", "bare", O) for c in (200, 201, 202)},
    210: ("Water bodies", "water", W),
    220: ("Permanent snow and ice", "snow and ice", O),
}
#: The PUG v2.0 conversion, category by category (Other land split as in the PUG).
CCI_PUG = {
    C: {10, 11, 12, 20, 30, 40},
    F: {50, 60, 61, 62, 70, 71, 72, 80, 81, 82, 90, 100, 160, 170},
    G: {110, 130},
    W: {180},
    S: {190},
    O: {120, 121, 122, 140, 150, 151, 152, 153, 200, 201, 202, 210, 220},
}

# ESA GlobCover 2009 v2.3: legend of Bontemps et al. (2011), Products Description and
# Validation Report, and Globcover2009_Legend.xls (LCCS classes as in CCI-LC).
GLOBCOVER = {
    11: ("Post-flooding or irrigated croplands (or aquatic)", "cropland", C),
    14: ("Rainfed croplands", "cropland", C),
    20: ("Mosaic cropland (50-70%) / vegetation (20-50%)", "cropland", C),
    30: ("Mosaic vegetation (50-70%) / cropland (20-50%)", "cropland, as CCI 40", C),
    **{c: ("forest", "tree cover > 15 %, > 5 m", F) for c in (40, 50, 60, 70, 90, 100)},
    110: ("Mosaic forest or shrubland (50-70%) / grassland", "as CCI 100", F),
    120: ("Mosaic grassland (50-70%) / forest or shrubland", "as CCI 110", G),
    130: ("shrubland (<5m)", "shrubs, below forest thresholds", G),
    140: ("herbaceous vegetation (grassland, savannas or lichens/mosses)", "herbaceous", G),
    150: ("Sparse (<15%) vegetation", "sparse", O),
    160: ("broadleaved forest regularly flooded, fresh or brackish water", "tree cover > 15 %", F),
    170: ("broadleaved forest or shrubland permanently flooded, saline", "mangroves", F),
    180: ("grassland or woody vegetation on regularly flooded soil", "flooded vegetation", W),
    190: ("Artificial surfaces and associated areas", "urban", S),
    200: ("Bare areas", "bare", O),
    210: ("Water bodies", "water", W),
    220: ("Permanent snow and ice", "snow and ice", O),
}

# MODIS MCD12Q1 C6 LC_Type1 (IGBP): User Guide (Sulla-Menashe & Friedl 2018), Table 3.
MODIS = {
    **{c: ("forest", "tree cover > 60 % (canopy > 2 m)", F) for c in (1, 2, 3, 4, 5)},
    6: ("Closed Shrublands", "woody perennials 1-2 m, > 60 % cover", G),
    7: ("Open Shrublands", "woody perennials 1-2 m, 10-60 % cover", G),
    8: ("Woody Savannas", "tree cover 30-60 % (canopy > 2 m)", F),
    9: ("Savannas", "tree cover 10-30 % (canopy > 2 m): above the 10 % forest rule", F),
    10: ("Grasslands", "herbaceous annuals < 2 m", G),
    11: ("Permanent Wetlands", "permanently inundated, 30-60 % water, > 10 % vegetated", W),
    12: ("Croplands", "at least 60 % cultivated cropland", C),
    13: ("Urban and Built-up Lands", "at least 30 % impervious surface", S),
    14: ("Cropland/Natural Vegetation Mosaics", "small-scale cultivation 40-60 %", C),
    15: ("Permanent Snow and Ice", "snow and ice at least 10 months", O),
    16: ("Barren", "at least 60 % non-vegetated, < 10 % vegetation", O),
    17: ("Water Bodies", "at least 60 % permanent water", W),
}

# CORINE Land Cover, 44-class nomenclature (Kosztra et al. 2019, Updated CLC illustrated
# nomenclature guidelines); level-1/2 headings decide most categories.
CORINE = {
    **{
        c: ("1 Artificial surfaces", "developed land", S)
        for c in (111, 112, 121, 122, 123, 124, 131, 132, 133, 141, 142)
    },
    **{
        c: ("2 Agricultural areas (arable, permanent crops, heterogeneous)", "crops", C)
        for c in (211, 212, 213, 221, 222, 223, 241, 242, 243, 244)
    },
    231: ("Pastures", "grazed or mown grassland", G),
    **{c: ("3.1 Forests", "trees", F) for c in (311, 312, 313)},
    321: ("Natural grasslands", "herbaceous", G),
    322: ("Moors and heathland", "low shrubs, below forest thresholds", G),
    323: ("Sclerophyllous vegetation", "bushy vegetation, below forest thresholds", G),
    324: ("Transitional woodland-shrub", "clear-cuts, regeneration: unstocked forest", F),
    331: ("Beaches, dunes, sands", "bare", O),
    332: ("Bare rocks", "bare", O),
    333: ("Sparsely vegetated areas", "3.3 little or no vegetation", O),
    334: ("Burnt areas", "3.3 little or no vegetation", O),
    335: ("Glaciers and perpetual snow", "ice", O),
    **{c: ("4 Wetlands", "inland and maritime wetlands", W) for c in (411, 412, 421, 422, 423)},
    **{c: ("5 Water bodies", "water", W) for c in (511, 512, 521, 522, 523)},
}
CORINE_ORDER = sorted(CORINE)  # GRID_CODE 1..44 follow the CLC codes in legend order

LEGENDS = {
    "esa_worldcover": WORLDCOVER,
    "cgls_lc100": CGLS,
    "esa_cci_lc": CCI,
    "globcover_2009": GLOBCOVER,
    "modis_igbp": MODIS,
    "corine": CORINE,
    "corine_index": {i + 1: CORINE[c] for i, c in enumerate(CORINE_ORDER)},
}

#: The documented departures of each preset from "the group follows the category":
#: flooded forest and mangroves -> wetland; open water, sea, salines, tidal flats ->
#: excluded.
DEPARTURES = {
    "esa_worldcover": {80: "excluded", 95: "wetland"},
    "cgls_lc100": {80: "excluded", 200: "excluded"},
    "esa_cci_lc": {160: "wetland", 170: "wetland", 210: "excluded"},
    "globcover_2009": {160: "wetland", 170: "wetland", 210: "excluded"},
    "modis_igbp": {17: "excluded"},
    "corine": dict.fromkeys((422, 423, 511, 512, 521, 522, 523), "excluded"),
    "corine_index": dict.fromkeys(range(38, 45), "excluded"),
}


def test_every_preset_is_checked():
    assert set(LEGENDS) == set(list_schemes())


@pytest.mark.parametrize("name", sorted(LEGENDS))
def test_ipcc_column_matches_published_legend(name):
    table = load_class_table(name)
    expected = {code: cat for code, (_, _, cat) in LEGENDS[name].items()}
    assert dict(zip(table.codes, table.ipcc, strict=True)) == expected


@pytest.mark.parametrize("name", sorted(LEGENDS))
def test_groups_follow_ipcc_except_documented(name):
    table = load_class_table(name)
    departures = {c: g for c, _, g, _ in table.ipcc_departures()}
    assert departures == DEPARTURES[name]
    # one '# exception' line covers each departure, and nothing else
    assert {c for c, _ in table.ipcc_exceptions} == set(departures)
    assert all(len(reason) > 20 for _, reason in table.ipcc_exceptions)
    # the wetland classes are not eligible by default; paddy is
    for code, group in zip(table.codes, table.groups, strict=True):
        if code in departures:
            assert group not in DEFAULT_ELIGIBLE, (name, code)


def test_cci_categories_against_the_pug_conversion():
    """The CCI-LC PUG v2.0 puts shrubland 120-122 and water 210 in Other land; the IPCC
    definitions put them in Grassland and Wetlands.  Those four are the only differences."""
    table = load_class_table("esa_cci_lc")
    pug = {c: cat for cat, codes in CCI_PUG.items() for c in codes}
    ours = dict(zip(table.codes, table.ipcc, strict=True))
    differ = {c: (pug[c], ours[c]) for c in ours if pug[c] != ours[c]}
    assert differ == {120: (O, G), 121: (O, G), 122: (O, G), 210: (O, W)}


def test_issue_cases():
    """The issue's cases: shrubland -> grassland; flooded forest, mangroves and flooded
    grassland -> wetland; CCI 20 and GlobCover 11 -> paddy; MODIS savannas by the 10 % rule."""
    groups = {
        n: dict(zip(t.codes, t.groups, strict=True)) for n in LEGENDS if (t := load_class_table(n))
    }
    assert groups["esa_worldcover"][20] == "grassland"
    assert groups["cgls_lc100"][20] == "grassland"
    assert {groups["esa_cci_lc"][c] for c in (120, 121, 122)} == {"grassland"}
    assert groups["globcover_2009"][130] == "grassland"
    assert {groups["modis_igbp"][c] for c in (6, 7)} == {"grassland"}
    assert {groups["corine"][c] for c in (322, 323)} == {"grassland"}
    assert groups["esa_worldcover"][95] == "wetland"
    assert {groups["esa_cci_lc"][c] for c in (160, 170, 180)} == {"wetland"}
    assert {groups["globcover_2009"][c] for c in (160, 170, 180)} == {"wetland"}
    assert groups["esa_cci_lc"][20] == "paddy"
    assert groups["globcover_2009"][11] == "paddy"
    assert groups["corine"][213] == "paddy" and groups["corine"][212] == "cropland"
    assert groups["modis_igbp"][8] == groups["modis_igbp"][9] == "forest"
    assert "wetland" not in DEFAULT_ELIGIBLE and "paddy" in DEFAULT_ELIGIBLE
    assert not any("shrubland" in g.values() for g in groups.values())


def test_ipcc_groups_cover_every_category():
    assert set(IPCC_GROUPS) == set(IPCC_CATEGORIES)
    assert follows(G, "grassland") and not follows(G, "shrubland")


def test_user_table_ipcc_column_is_checked(tmp_path):
    good = tmp_path / "t.csv"
    good.write_text(
        "# exception 3: open water, no soil\n"
        "code,group,ipcc\n1,cropland,Cropland\n2,grassland,Grassland\n3,excluded,Wetlands\n"
    )
    t = load_class_table(good)
    assert t.ipcc == ("Cropland", "Grassland", "Wetlands")
    assert t.ipcc_exceptions == ((3, "open water, no soil"),)
    assert [c for c, *_ in t.ipcc_departures()] == [3]
    back = load_class_table(t.to_csv(tmp_path / "back.csv"))
    assert back.ipcc == t.ipcc and back.ipcc_exceptions == t.ipcc_exceptions
    bad = tmp_path / "bad.csv"
    bad.write_text("code,group,ipcc\n1,cropland,Farmland\n")
    with pytest.raises(ClassTableError, match="Farmland"):
        load_class_table(bad)
    orphan = tmp_path / "orphan.csv"
    orphan.write_text("# exception 9: nothing\ncode,group\n1,cropland\n")
    with pytest.raises(ClassTableError, match=r"\[9\]"):
        load_class_table(orphan)
    # a table without the column has no categories and no departures
    plain = tmp_path / "plain.csv"
    plain.write_text("code,group\n1,cropland\n")
    assert load_class_table(plain).ipcc == () and load_class_table(plain).ipcc_departures() == []
