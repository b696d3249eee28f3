"""p-values and test statistics as text, one convention for reports, plots and conclusions."""

from __future__ import annotations

#: Below this a p-value is shown as "< 1e-16": double precision cannot tell smaller ones apart.
P_FLOOR = 1e-16


def fmt_p(p: float, digits: int = 3) -> str:
    """A p-value for humans: ``digits`` significant digits, ``< 1e-16`` below machine precision."""
    return "< 1e-16" if p < P_FLOOR else f"{p:.{digits}g}"


def p_text(p: float, digits: int = 3) -> str:
    """``p = 0.012`` or ``p < 1e-16``."""
    return "p < 1e-16" if p < P_FLOOR else f"p = {p:.{digits}g}"
