"""Masking of personal data, the same for both doors (CLI member pages and the MCP server's previews).

A masked value keeps enough to tell rows apart and to recognise one's own customer (a first letter, the
last two digits of a phone, a top-level domain), never enough to contact or name the person. Customer ids
are masked by what they look like, since any column (an email, a phone, a name) may be mapped as the key.
"""

from __future__ import annotations

import re
import unicodedata

_MAX_TEXT = 40
_MASK = "***"
# A shop's own customer number or token: letters, digits and a few joiners, with at least one digit.
_OPAQUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:#/-]*")
# Five letters in a row may spell a name or a user name (ana.lopez84); shop ids have runs of a few letters.
_WORD = re.compile(r"[A-Za-z]{5}")
_PHONE_LIKE = re.compile(r"\+?[\d\s().-]{7,}")


def mask_email(value: str | None) -> str | None:
    """``ana.lopez@example.com`` -> ``a***@e***.com``; ``x@localhost`` -> ``x***@l***``.

    The first letter of the mailbox and of the host stay, and a top-level domain of letters; everything
    else (the mailbox, the host, sub-domains) becomes ``***``.
    """
    if not value or not value.strip():
        return None
    local, _, domain = value.strip().partition("@")
    if not domain:
        return mask_text(value)
    host, dot, tld = domain.rpartition(".")
    if not dot or not tld.isascii() or not tld.isalpha() or len(tld) > 10:
        host, dot, tld = domain, "", ""
    return f"{_first(local)}{_MASK}@{_first(host)}{_MASK}{dot}{tld.lower()}"


def mask_phone(value: str | None) -> str | None:
    """Every digit but the last two becomes ``*``, separators stay: ``+1 415-555-0101`` -> ``+* ***-***-**01``.

    A value with fewer than six digits is not a phone number anyone can dial; it is masked whole.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    digits = sum(ch.isdigit() for ch in text)
    if digits < 6 or len(text) > _MAX_TEXT or any(ch.isalpha() for ch in text):
        return mask_text(text)
    seen, out = 0, []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - 2 else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_name(first: str | None, last: str | None = None) -> str | None:
    """Initials only: ``Ana``, ``Lopez`` -> ``A. L.``; a full name in one field gives an initial per word."""
    words = [w for part in (first, last) if part for w in part.split()]
    initials = [f"{_first(w).upper()}." for w in words[:4] if _first(w)]
    return " ".join(initials) or None


def mask_text(value: str | None) -> str | None:
    """Any other personal text: its first letter and ``***``."""
    if not value or not value.strip():
        return None
    return f"{_first(value.strip())}{_MASK}"


def mask_customer_id(value: str | None) -> str:
    """A customer id as a model may see it: a shop's id number stays, anything personal is masked.

    An email is masked as an email, a phone number as a phone; an id that is a plain token with a digit in
    it and no run of five letters (``C001``, ``4711``, ``CUST-0042``, ``cus_9xT2``) stays as it is; anything
    else (a name, a user name like ``ana.lopez84``, free text used as the key) is masked to initials, since it
    may name the person.
    """
    text = (value or "").strip()
    if not text:
        return ""
    if "@" in text:
        return mask_email(text) or ""
    if _PHONE_LIKE.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 9:
        return mask_phone(text) or ""
    if (
        len(text) <= _MAX_TEXT
        and _OPAQUE_ID.fullmatch(text)
        and any(ch.isdigit() for ch in text)
        and not _WORD.search(text)
    ):
        return text
    if len(text.split()) > 1:
        return mask_name(text) or ""
    return mask_text(text) or ""


def _first(text: str) -> str:
    """The first letter or digit of ``text`` (never a control, format or combining character)."""
    for ch in unicodedata.normalize("NFC", text):
        if ch.isalnum():
            return ch
    return ""
