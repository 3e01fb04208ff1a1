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
