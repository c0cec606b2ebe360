"""Looker's built-in ``value_format_name`` formats: what ``apply_formatting`` and ``rendered`` show.

The names and their Excel-style patterns are Looker's list of default formats
(https://cloud.google.com/looker/docs/reference/param-field-value-format-name, "Default
format names"). Written out by hand: the list is fixed, and each pattern is one Python format
spec, which a spreadsheet-format library would only translate back to.
"""

from __future__ import annotations

_PATTERNS: dict[str, tuple[str, str, str]] = {
    # name: (prefix, Python format spec, suffix)
    "decimal_0": ("", ",.0f", ""),
    "decimal_1": ("", ",.1f", ""),
    "decimal_2": ("", ",.2f", ""),
    "decimal_3": ("", ",.3f", ""),
    "decimal_4": ("", ",.4f", ""),
    "usd_0": ("$", ",.0f", ""),
    "usd": ("$", ",.2f", ""),
    "gbp_0": ("£", ",.0f", ""),
    "gbp": ("£", ",.2f", ""),
    "eur_0": ("€", ",.0f", ""),
    "eur": ("€", ",.2f", ""),
    "id": ("", ".0f", ""),
    "percent_0": ("", ".0%", ""),
    "percent_1": ("", ".1%", ""),
    "percent_2": ("", ".2%", ""),
    "percent_3": ("", ".3%", ""),
    "percent_4": ("", ".4%", ""),
}
NAMES = frozenset(_PATTERNS)

EXCEL_PATTERNS: dict[str, str] = {
    "decimal_0": "#,##0",
    "decimal_1": "#,##0.0",
    "decimal_2": "#,##0.00",
    "decimal_3": "#,##0.000",
    "decimal_4": "#,##0.0000",
    "usd_0": "$#,##0",
    "usd": "$#,##0.00",
    "gbp_0": "£#,##0",
    "gbp": "£#,##0.00",
    "eur_0": "€#,##0",
    "eur": "€#,##0.00",
    "id": "0",
    "percent_0": "0%",
    "percent_1": "0.0%",
    "percent_2": "0.00%",
    "percent_3": "0.000%",
    "percent_4": "0.0000%",
}
"""The pattern Looker reports as a field's ``value_format`` for each name."""


def render(value: object, format_name: str | None) -> str | None:
    """``value`` as the format shows it; ``None`` where the field has no format or no value."""
    if format_name is None or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    prefix, spec, suffix = _PATTERNS[format_name]
    sign = "-" if value < 0 else ""
    return f"{sign}{prefix}{format(abs(value), spec)}{suffix}"
