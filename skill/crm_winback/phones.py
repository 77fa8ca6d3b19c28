"""Phone numbers as E.164, where the number itself says its country (``+`` or ``00``).

The one rule both the profiles reader (ingest) and the audience exports (segments) use; numbers without their
country code need the audience knowledge's national numbering, which ``segments.audience.to_e164`` adds.
"""

from __future__ import annotations

import re

_NOT_A_PHONE = re.compile(r"[^\d\s().+\-/]")


def phone_digits(raw: str | None) -> tuple[str, bool] | None:
    """The number's digits and whether it carries its country (``+`` or ``00``, dropped); None when it is none."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or _NOT_A_PHONE.search(text):
        return None
    international = text.startswith("+") or text.startswith("00")
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    return digits, international


def international_e164(raw: str | None) -> str | None:
    """``+<digits>`` for a number written with its country code, else None (too short, too long or national)."""
    parsed = phone_digits(raw)
    if parsed is None or not parsed[1]:
        return None
    digits = parsed[0]
    return f"+{digits}" if 8 <= len(digits) <= 15 and not digits.startswith("0") else None
