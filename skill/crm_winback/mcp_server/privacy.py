"""Masking for the one place personal data may reach a model: a preview the user asked for."""

from __future__ import annotations

import re

_MAX_TEXT = 40


def mask_email(value: str | None) -> str | None:
    """``ana.lopez@example.com`` -> ``a***@e***.com``."""
    if not value:
        return None
    local, _, domain = value.partition("@")
    if not domain:
        return mask_text(value)
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}***@{host[:1]}***{dot}{tld[:10]}"


def mask_phone(value: str | None) -> str | None:
    """Every digit but the last two becomes ``*``: ``+14155550101`` -> ``+*********01``."""
    if not value:
        return None
    digits = sum(ch.isdigit() for ch in value)
    seen = 0
    out = []
    for ch in value[:_MAX_TEXT]:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - 2 else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_name(first: str | None, last: str | None) -> str | None:
    """Initials only: ``Ana Lopez`` -> ``A. L.``."""
    parts = [f"{p.strip()[0].upper()}." for p in (first, last) if p and p.strip()]
    return " ".join(parts) or None


def mask_text(value: str) -> str:
    return f"{value[:1]}***" if value else value


def safe_customer_id(value: str) -> str:
    """A customer id as the model may see it: emails and phone-like ids masked, long ids cut short.

    Ids come from the user's file, so they are data, never instructions: anything that is not a plain
    short token is cut to 40 characters.
    """
    if "@" in value:
        return mask_email(value) or ""
    if re.fullmatch(r"\+?[\d\s().-]{9,}", value) and sum(ch.isdigit() for ch in value) >= 9:
        return mask_phone(value) or ""
    return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 3] + "..."
