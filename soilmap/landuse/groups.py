"""The land-use group names soilmap knows, in one place, and the check of every name given.

A group name is a contract between the class table, the scenario's ``eligible`` list
and its per-group rates: ``croplnd`` in a table, ``"grasland"`` in ``eligible`` or
``--eligible croplands`` would otherwise silently become a custom group that no rate
or eligibility reaches (−97 % eligible land, grassland dropped, nothing eligible).

* :data:`STANDARD_NAMES` lists the standard groups (those with fixed raster codes in
  :data:`soilmap.landuse.table.STANDARD_GROUPS`, and the other names land-cover
  legends commonly use);
* :func:`check_table_groups`: a custom group within two edits of a standard name must
  be declared (``# groups: croplnd`` in the table's header comment, or
  ``custom = ["croplnd"]`` under ``[groups]`` in the run config);
* :func:`check_names`: an ``eligible`` entry or a rate key must be a standard group or
  a group of the class table; otherwise a did-you-mean error.

>>> suggest("croplnd")
'cropland'
>>> edit_distance("grasland", "grassland")
1
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from soilmap.errors import ClassTableError, ConfigError

__all__ = [
    "CLOSE_EDITS",
    "STANDARD_NAMES",
    "check_names",
    "check_table_groups",
    "edit_distance",
    "suggest",
]

#: The standard land-use groups.  The first nine have fixed raster codes
#: (:data:`soilmap.landuse.table.STANDARD_GROUPS`); the others are names land-cover
#: legends commonly use, accepted as groups without a fixed code.
STANDARD_NAMES: tuple[str, ...] = (
    "excluded",
    "cropland",
    "grassland",
    "forest",
    "pasture",
    "paddy",
    "shrubland",
    "sparse",
    "wetland",
    "settlement",
    "water",
)

#: A custom group this close (edits) to a standard name must be declared.
CLOSE_EDITS = 2


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two names."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(name: str, choices: Iterable[str] = STANDARD_NAMES) -> str | None:
    """The closest of ``choices`` to ``name`` (difflib), or None if none is close."""
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _close_standard(name: str) -> str | None:
    """The standard name within :data:`CLOSE_EDITS` edits of ``name`` (not equal)."""
    best = min(STANDARD_NAMES, key=lambda s: edit_distance(name, s))
    d = edit_distance(name, best)
    return best if 0 < d <= CLOSE_EDITS else None


def check_table_groups(groups: Iterable[str], declared: Sequence[str], *, where: str) -> None:
    """Refuse a table's custom group that looks like a misspelt standard one.

    Raises
    ------
    soilmap.errors.ClassTableError
        A group within two edits of a standard name, not declared in the table's
        header comment (``# groups: NAME``) nor in ``declared`` (the run config's
        ``[groups] custom``).
    """
    for g in dict.fromkeys(groups):
        if g in STANDARD_NAMES or g in declared or g == "nodata":
            continue
        close = _close_standard(g)
        if close is not None:
            raise ClassTableError(
                f"{where}: group {g!r} is not a standard group; did you mean {close!r}? "
                f"A custom group this close to a standard name must be declared: add the "
                f"header comment '# groups: {g}' to the table, or custom = [\"{g}\"] under "
                f"[groups] in the run config. Standard groups: {', '.join(STANDARD_NAMES)}."
            )


def check_names(names: Iterable[str], table_groups: Sequence[str], *, what: str, fix: str) -> None:
    """Refuse ``eligible`` entries or rate keys that are no group of the run.

    Parameters
    ----------
    names : iterable of str
    table_groups : sequence of str
        The groups of the class table.
    what : str
        E.g. ``"scenario 'p4': eligible"``.
    fix : str
        Where to change it (``"eligible = [...] in [scenario]"``, ``"--eligible"``).

    Raises
    ------
    soilmap.errors.ConfigError
        A name that is neither standard nor a group of the table.
    """
    known = [*STANDARD_NAMES, *(g for g in table_groups if g not in STANDARD_NAMES)]
    for name in names:
        if name in known:
            continue
        close = suggest(name, known)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(
            f"{what}: {name!r} is not a land-use group of this run.{hint} Groups: "
            f"{', '.join(known)}. Change it ({fix})."
        )
