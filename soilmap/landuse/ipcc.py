"""The IPCC (2006) land categories and the land-use groups that follow each of them.

Every preset class table gives each class its IPCC land category (column ``ipcc``),
the six categories of the 2006 IPCC Guidelines for National Greenhouse Gas
Inventories, Vol. 4, Ch. 3, Section 3.2.1 (Forest land, Cropland, Grassland,
Wetlands, Settlements, Other land).  A class's land-use group *follows* its
category when it is one of :data:`IPCC_GROUPS` for it; a preset documents every
class whose group does not with a comment line ``# exception CODES: reason``
(e.g. mangroves: Forest land, but group ``wetland``, not eligible by default).

>>> follows("Grassland", "pasture"), follows("Forest land", "wetland")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["IPCC_CATEGORIES", "IPCC_GROUPS", "IPCC_SOURCE", "follows"]

#: The six land categories of the 2006 IPCC Guidelines (Vol. 4, Ch. 3, 3.2.1).
IPCC_CATEGORIES: tuple[str, ...] = (
    "Forest land",
    "Cropland",
    "Grassland",
    "Wetlands",
    "Settlements",
    "Other land",
)

#: The land-use groups that follow each category (the first is its usual group).
#: Grassland includes shrubland and savanna below the forest thresholds (IPCC 2006
#: Vol. 4, 3.2.1: "systems with woody vegetation ... that fall below the threshold
#: values used in the Forest Land category"); Cropland includes rice paddies;
#: Other land is bare soil, rock, ice and sparse vegetation.
IPCC_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Forest land": ("forest",),
        "Cropland": ("cropland", "paddy"),
        "Grassland": ("grassland", "pasture"),
        "Wetlands": ("wetland",),
        "Settlements": ("excluded",),
        "Other land": ("excluded", "sparse"),
    }
)

#: Where the categories are defined (for messages and docs).
IPCC_SOURCE = (
    "IPCC (2006) 2006 IPCC Guidelines for National Greenhouse Gas Inventories, Vol. 4 "
    "Agriculture, Forestry and Other Land Use, Ch. 3 Consistent Representation of Lands, "
    "Section 3.2.1 (land-use categories)"
)


def follows(category: str, group: str) -> bool:
    """Whether ``group`` is one of the groups that follow the IPCC ``category``."""
    return group in IPCC_GROUPS.get(category, ())


def check_ipcc(
    codes: tuple[int, ...],
    ipcc: tuple[str, ...],
    exceptions: tuple[tuple[int, str], ...],
    *,
    where: str,
) -> None:
    """Refuse an ``ipcc`` column that is not one known category per class.

    Parameters
    ----------
    codes : tuple of int
        The table's class codes.
    ipcc : tuple of str
        Category of each class, or empty (a table without the column); ``""`` for a
        class the table leaves without a category.
    exceptions : tuple of (int, str)
        ``(code, reason)`` of the classes whose group departs from their category.
    where : str
        The table, for messages.

    Raises
    ------
    soilmap.errors.ClassTableError
        An unknown category, a column of the wrong length, or an exception naming a
        code the table does not have.
    """
    from soilmap.errors import ClassTableError

    if ipcc and len(ipcc) != len(codes):
        raise ClassTableError(f"{where}: the ipcc column must have one entry per class.")
    bad = sorted({c for c in ipcc if c and c not in IPCC_CATEGORIES})
    if bad:
        raise ClassTableError(
            f"{where}: unknown IPCC land categor(y/ies) {bad}. The ipcc column takes one of "
            f"{', '.join(IPCC_CATEGORIES)} ({IPCC_SOURCE}), or is left empty."
        )
    unknown = sorted({c for c, _ in exceptions} - set(codes))
    if unknown:
        raise ClassTableError(
            f"{where}: '# exception' comment lines name code(s) {unknown} that the table "
            "does not list as classes. Fix the codes of those lines."
        )
