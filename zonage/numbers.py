"""Numbers as a French reader writes them: ``12 345,6`` (narrow no-break space, decimal comma)."""

from __future__ import annotations

import math

__all__ = ["french_number"]


def french_number(value: float | None, decimals: int = 2) -> str:
    """``value`` with ``decimals`` decimals, a decimal comma and thin-space thousands; ``"n.d."`` when missing.

    >>> french_number(12345.678, 1)
    '12\u202f345,7'
    >>> french_number(float("nan"))
    'n.d.'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value != value:
        return "n.d."
    return f"{value:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")


def count_fr(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` things in French: ``1 ligne``, ``2 lignes``, ``12 345 lignes`` (0 and 1 take the singular).

    >>> count_fr(1, "ligne"), count_fr(1234, "ligne")
    ('1 ligne', '1\u202f234 lignes')
    """
    word = singular if abs(n) < 2 else (plural or f"{singular}s")
    return f"{french_number(n, 0)} {word}"
