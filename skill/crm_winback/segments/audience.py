"""Consent-aware audience files for Klaviyo, Mailchimp or a plain CSV.

Who is left out, in this order (each person is counted once, under the first reason that applies):
1. no address for the channel, or one that is not usable (an SMS number that cannot be written in E.164);
2. on the suppression file (unsubscribes, bounces, complaints);
3. opted out of the channel;
4. no consent on record for the channel - unless ``soft_opt_in`` (email only): UK PECR / EU rules let a shop
   email existing customers about similar products with an opt-out in every message. SMS always needs express
   consent, so soft opt-in never applies to it;
5. the same address already taken by another customer of the segment (the lowest customer id keeps it).

Text cells a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return) get a leading apostrophe. Phone cells are exempt: they are only ever written as validated E.164
(``+`` and digits), which importers require as is. Files are written atomically.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..errors import InputError
from ..files import atomic_path, check_output
from ..knowledge import KnowledgeModel, load_knowledge
from ..models.store import AudienceExclusion as Exclusion
from ..models.store import AudienceResult, Channel, ExportFormat

AudienceField = Literal[
    "customer_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "rfm_segment",
    "lifecycle_stage",
    "churn_risk",
    "orders",
    "total_spent",
    "last_order_date",
    "email_consent",
    "sms_consent",
    "tags",
]
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CountryNumbering(KnowledgeModel):
    calling_code: str = Field(pattern=r"^[1-9]\d{0,2}$")
    trunk_prefix: str = Field(pattern=r"^\d?$")
    national_digits: tuple[int, int]


class AudienceRules(KnowledgeModel):
    formats: dict[ExportFormat, dict[Channel, dict[str, AudienceField]]]
    countries: dict[str, CountryNumbering]


def audience_rules() -> AudienceRules:
    return load_knowledge("audience.yaml", AudienceRules)


def neutralise(text: str) -> str:
    """Make a cell inert in a spreadsheet: prefix an apostrophe when it would start a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_e164(raw: str | None, default_country: str | None = None) -> str | None:
    """``+<digits>`` for a phone number, or None when it cannot be made valid E.164.

    Numbers with ``+`` or ``00`` carry their country; others need ``default_country`` (ISO code like US, GB).
    """
    if raw is None:
        return None
    text = raw.strip()
    if not text or re.search(r"[^\d\s().+\-/]", text):
        return None
    international = text.startswith("+") or text.startswith("00")
    digits = re.sub(r"\D", "", text)
    if international:
        digits = digits[2:] if text.startswith("00") else digits
        return f"+{digits}" if 8 <= len(digits) <= 15 and not digits.startswith("0") else None
    if default_country is None:
        return None
    numbering = audience_rules().countries[default_country.upper()]
    if numbering.trunk_prefix and digits.startswith(numbering.trunk_prefix):
        low, high = numbering.national_digits
        if not low <= len(digits) <= high:  # only drop the trunk digit when the rest is too long without it
            digits = digits[len(numbering.trunk_prefix) :]
    low, high = numbering.national_digits
    if not low <= len(digits) <= high:
        return None
    full = numbering.calling_code + digits
    return f"+{full}" if len(full) <= 15 else None


def check_country(code: str | None) -> str | None:
    if code is None:
        return None
    countries = audience_rules().countries
    if code.upper() not in countries:
        raise InputError(f"--default-country {code}: unknown; use one of {', '.join(sorted(countries))} "
                         "(or give numbers with their +country code)")  # fmt: skip
    return code.upper()


def read_suppression(path: str | Path, default_country: str | None = None) -> set[str]:
    """Emails (lower case) and E.164 numbers from a suppression file (any CSV or one address per line)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"--suppress {p}: cannot be read ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise InputError(f"--suppress {p}: not UTF-8 text; save it as UTF-8 CSV") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # a cell over the csv module's 128 KB field limit, and the like
        raise InputError(f"--suppress {p}: not a CSV of emails and phones ({exc}); check the file") from None
    if not rows:
        return set()
    header = [h.strip().lower() for h in rows[0]]
    wanted = [i for i, h in enumerate(header) if "mail" in h or "phone" in h]
    body = rows[1:] if wanted else rows
    columns = wanted or None
    found: set[str] = set()
    for row in body:
        for i, cell in enumerate(row):
            if columns is not None and i not in columns:
                continue
            value = cell.strip()
            if "@" in value:
                found.add(value.lower())
            else:
                phone = to_e164(value, default_country)
                if phone:
                    found.add(phone)
    return found


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def build_audience(
    segment: str,
    customers: Iterable[Mapping[str, Any]],
    fmt: ExportFormat,
    channel: Channel,
    soft_opt_in: bool = False,
    suppressed: set[str] | None = None,
    default_country: str | None = None,
) -> tuple[list[str], list[list[str]], AudienceResult]:
    """Apply consent and suppression; return the header, the neutralised rows and the counts."""
    if soft_opt_in and channel == "sms":
        raise InputError("--soft-opt-in applies to email only: SMS needs prior express consent")
    layout = audience_rules().formats[fmt][channel]
    suppressed = suppressed or set()
    excluded: Counter[str] = Counter()
    seen: set[str] = set()
    rows: list[list[str]] = []
    candidates = soft = 0
    consent_known = False
    for c in sorted(customers, key=lambda r: str(r["customer_id"])):
        candidates += 1
        email = (c.get("email") or "").strip().lower() or None
        phone = to_e164(c.get("phone"), default_country)
        consent = c.get("email_consent") if channel == "email" else c.get("sms_consent")
        consent_known = consent_known or consent is not None
        address = email if channel == "email" else phone
        reason = None
        if channel == "email" and email is None:
            reason = "no email address"
        elif channel == "email" and not _EMAIL.match(email or ""):
            reason = "invalid email address"
        elif channel == "sms" and not (c.get("phone") or "").strip():
            reason = "no phone number"
        elif channel == "sms" and phone is None:
            reason = "phone number not valid E.164" + ("" if default_country else " (try --default-country)")
        elif address in suppressed:  # per channel: an SMS "STOP" does not unsubscribe from email
            reason = "on the suppression list"
        elif consent is False:
            reason = f"opted out of {'email' if channel == 'email' else 'SMS'}"
        elif consent is None and not soft_opt_in:
            reason = f"no {'email' if channel == 'email' else 'SMS'} consent on record"
        elif address in seen:
            reason = f"duplicate {'email address' if channel == 'email' else 'phone number'}"
        if reason is not None:
            excluded[reason] += 1
            continue
        assert address is not None
        seen.add(address)
        soft += consent is None
        values = {**c, "email": email, "phone": phone, "total_spent": c.get("net_total", c.get("total_spent")),
                  "tags": f"{segment}, {c.get('rfm_segment') or ''}".rstrip(", ")}  # fmt: skip
        rows.append(
            [
                _cell(values.get(field)) if field == "phone" else neutralise(_cell(values.get(field)))
                for field in layout.values()
            ]
        )
    notes = []
    if candidates and not consent_known:
        notes.append(f"the data has no {channel} consent column: nobody has consent on record"
                     + (" (included under --soft-opt-in)" if soft_opt_in else ""))  # fmt: skip
    if soft:
        notes.append(f"{soft} customers without an email consent record are included under --soft-opt-in: "
                     "allowed for existing customers and similar products under UK PECR / EU rules, with an "
                     "opt-out in every message; not a basis in the US or for SMS")  # fmt: skip
    result = AudienceResult(
        segment=segment, format=fmt, channel=channel, output=None, candidates=candidates, exported=len(rows),
        excluded=[Exclusion(reason=r, customers=n) for r, n in sorted(excluded.items(), key=lambda x: -x[1])],
        soft_opt_in_included=soft, notes=notes,
    )  # fmt: skip
    return list(layout), rows, result


def write_csv_atomic(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Write a CSV through a temporary file in the same folder, then rename: never a half-written file."""
    out = check_output(path)
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return out
