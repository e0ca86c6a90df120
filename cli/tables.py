"""Plain-text tables for people (``--json`` gives scripts the API's own documents)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
    if isinstance(value, dict | list):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items()) if isinstance(value, dict) else str(len(value))
    return str(value)


def money(minor: Any, currency: str = "") -> str:
    """Minor units as a decimal amount (two decimals: what the project's currencies use)."""
    if not isinstance(minor, int):
        return cell(minor)
    sign = "-" if minor < 0 else ""
    text = f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"
    return f"{text} {currency}".strip()


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    shown = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) and bool(rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in shown]
    return "\n".join(out)


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """``name  value`` lines, for one record."""
    width = max((len(k) for k, _ in items), default=0)
    return "\n".join(f"{k.ljust(width)}  {cell(v)}" for k, v in items)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
