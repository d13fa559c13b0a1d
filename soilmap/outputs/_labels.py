"""Numbers as text for QGIS styles: exact attribute values and short, distinct labels."""

from __future__ import annotations

__all__ = ["distinct_labels", "exact_number", "label_decimals"]

import numpy as np

#: Widest label precision tried before giving up on distinct labels.
_MAX_SIGNIFICANT = 17


def exact_number(value: float) -> str:
    """Shortest text that reads back as exactly ``value`` ("12", "0.1", "1e-05")."""
    value = float(value) + 0.0
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _significant(value: float, digits: int, *, scientific: bool) -> str:
    value = float(value) + 0.0
    if value == 0.0:
        return "0"
    if scientific:
        return f"{value:.{digits - 1}e}"
    text = np.format_float_positional(
        value, precision=digits, unique=False, fractional=False, trim="-"
    )
    return "0" if text in ("-0", "0.") else text


def distinct_labels(values: np.ndarray) -> list[str]:
    """3 significant digits, more only if neighbouring stops would read the same.

    One notation for the whole legend: positional, unless the largest magnitude
    is at least one million or below 0.001, then scientific.
    """
    largest = float(np.max(np.abs(values)))
    scientific = not 1e-3 <= largest < 1e6
    texts: list[str] = []
    for digits in range(3, _MAX_SIGNIFICANT + 1):
        texts = [_significant(v, digits, scientific=scientific) for v in values]
        if len(set(texts)) == len(texts):
            break
    return texts


def label_decimals(texts: list[str]) -> int:
    """Decimal places needed to show the labels' values positionally (QGIS precision)."""
    places = [
        len(text.split(".", 1)[1]) if "." in text else 0
        for text in (np.format_float_positional(float(t), trim="-") for t in texts)
    ]
    return min(max(places, default=0), 15)
