"""Consent-aware audience files for Klaviyo, Mailchimp or a plain CSV.

Who is left out, in this order (each person is counted once, under the first reason that applies):
1. no address for the channel, or one that is not usable (an SMS number that cannot be written in E.164);
2. on the suppression file (unsubscribes, bounces, complaints);
3. opted out of the channel;
4. no consent on record for the channel - unless ``soft_opt_in`` (email only): UK PECR / EU rules let a shop
   email existing customers about similar products with an opt-out in every message. SMS always needs express
   consent, so soft opt-in never applies to it;
5. the same address already taken by another customer of the segment (the lowest customer id keeps it).

Text cells a spreadsheet would run as a formula get a leading apostrophe, by the one rule of every file we write
(:func:`crm_winback.files.neutralise`): plain values - E.164 numbers, ``+eve@shop.test``, ``-5.00`` - stay as
they are, which importers require. Files are written atomically.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..errors import InputError, OutputExists
from ..files import atomic_path, check_output, neutralise, write_text
from ..knowledge import KnowledgeModel, load_knowledge
from ..models.store import AudienceExclusion as Exclusion
from ..models.store import AudienceResult, Channel, ExportFormat
from ..phones import international_e164, phone_digits

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


class CountryNumbering(KnowledgeModel):
    calling_code: str = Field(pattern=r"^[1-9]\d{0,2}$")
    trunk_prefix: str = Field(pattern=r"^\d?$")
    national_digits: tuple[int, int]


class AudienceRules(KnowledgeModel):
    formats: dict[ExportFormat, dict[Channel, dict[str, AudienceField]]]
    countries: dict[str, CountryNumbering]


def audience_rules() -> AudienceRules:
    return load_knowledge("audience.yaml", AudienceRules)


def to_e164(raw: str | None, default_country: str | None = None) -> str | None:
    """``+<digits>`` for a phone number, or None when it cannot be made valid E.164.

    Numbers with ``+`` or ``00`` carry their country; others need ``default_country`` (ISO code like US, GB).
    """
    parsed = phone_digits(raw)
    if parsed is None:
        return None
    digits, international = parsed
    if international:
        return international_e164(raw)
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


_EMAIL_IN = re.compile(r"[^@\s<>,;:\"'()\[\]]+@[^@\s<>,;:\"'()\[\]]+\.[^@\s<>,;:\"'()\[\]]+")
# header words of a column of phone numbers (any column when the file names none)
_PHONE_HEADERS = ("phone", "mobile", "cell", "sms", "tel", "msisdn", "number")


def read_suppression(path: str | Path, default_country: str | None = None) -> set[str]:
    """Emails (lower case) and E.164 numbers from a suppression file (any CSV or one address per line).

    Emails are taken from any cell, also when written ``Name <a@b.test>`` or ``mailto:a@b.test``; phone
    numbers from the columns whose header names them (Phone, Mobile, SMS, ...), or from every column when
    none does. Comma, semicolon, tab or pipe separated. A file with rows but no address in them is refused:
    taking it as empty would export everyone who unsubscribed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"--suppress {p}: cannot be read ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise InputError(f"--suppress {p}: not UTF-8 text; save it as UTF-8 CSV") from None
    if not text.strip():
        return set()
    first = text.splitlines()[0]
    delimiter = max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","
    try:
        rows = [
            row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in row)
        ]
    except csv.Error as exc:  # a cell over the csv module's 128 KB field limit, and the like
        raise InputError(f"--suppress {p}: not a CSV of emails and phones ({exc}); check the file") from None
    found: set[str] = set()

    def add(cell: str, phones: bool) -> bool:
        emails = _EMAIL_IN.findall(cell)
        found.update(e.lower().rstrip(".") for e in emails)
        phone = None if emails or not phones else to_e164(cell, default_country)
        if phone:
            found.add(phone)
        return bool(emails or phone)

    header = rows[0]
    # no header when the first line holds an address, or no letters at all (a national phone number)
    headless = any(add(c, True) for c in header) or not any(ch.isalpha() for c in header for ch in c)
    phone_columns = [i for i, h in enumerate(header) if any(w in h.lower() for w in _PHONE_HEADERS)]
    body = rows if headless else rows[1:]
    for row in body:
        for i, cell in enumerate(row):
            add(cell, headless or not phone_columns or i in phone_columns)
    if body and not found:
        raise InputError(f"--suppress {p}: no email address or phone number found in it; give the file of "
                         "unsubscribes, bounces and complaints (a column of emails or phone numbers)")  # fmt: skip
    return found


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def normalise_address(
    channel: Channel, email: str | None, phone: str | None, default_country: str | None
) -> str | None:
    """The address a channel reaches: the email in lower case, or the phone number in E.164."""
    if channel == "email":
        return (email or "").strip().lower() or None
    return to_e164(phone, default_country)


def latest_answers(
    answers: Iterable[tuple[str | None, bool | None, Any]],
    channel: Channel,
    default_country: str | None = None,
) -> dict[str, bool]:
    """The latest consent answer per address, from ``(address, consent, date)`` of every customer id.

    An address is a person's, whatever customer id it was given under (a guest checkout, a second account):
    the answer given last wins, and on the same day "no" wins. ``address`` is as exported: it is normalised
    here (email in lower case, phone in E.164).
    """
    best: dict[str, tuple[Any, bool, bool]] = {}
    for raw, consent, day in answers:
        if consent is None or raw is None:
            continue
        day = day if day is not None else dt.date.min
        address = (
            normalise_address("email", raw, None, None)
            if channel == "email"
            else normalise_address("sms", None, raw, default_country)
        )
        if address is None:
            continue
        key = (day, not consent)
        found = best.get(address)
        if found is None or (key[0], key[1]) > (found[0], found[1]):
            best[address] = (day, not consent, consent)
    return {address: consent for address, (_, _, consent) in best.items()}


def build_audience(
    segment: str,
    customers: Iterable[Mapping[str, Any]],
    fmt: ExportFormat,
    channel: Channel,
    soft_opt_in: bool = False,
    suppressed: set[str] | None = None,
    default_country: str | None = None,
    address_consent: Mapping[str, bool] | None = None,
    sunset: set[str] | None = None,
) -> tuple[list[str], list[list[str]], AudienceResult]:
    """Apply consent and suppression; return the header, the rows (as text) and the counts.

    ``address_consent`` holds the latest answer per address across all customer ids (see
    :func:`latest_answers`): it overrides a customer's own answer, so an address that opted out under another
    id is left out. ``sunset`` holds the email addresses the platform shows as unengaged (--profiles): they
    leave campaigns to protect deliverability.
    """
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
        email = normalise_address("email", c.get("email"), None, None)
        phone = normalise_address("sms", None, c.get("phone"), default_country)
        consent = c.get("email_consent") if channel == "email" else c.get("sms_consent")
        consent_known = consent_known or consent is not None
        address = email if channel == "email" else phone
        own = consent
        if address_consent and address is not None and address in address_consent:
            consent = address_consent[address]
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
            reason = f"opted out of {'email' if channel == 'email' else 'SMS'}" + (
                "" if own is False else " (under another customer id with the same address)"
            )
        elif consent is None and not soft_opt_in:
            reason = f"no {'email' if channel == 'email' else 'SMS'} consent on record"
        elif sunset and address in sunset:
            reason = "unengaged on the email platform (the sunset rule of knowledge/engagement.yaml)"
        elif address in seen:
            reason = f"duplicate {'email address' if channel == 'email' else 'phone number'}"
        if reason is not None:
            excluded[reason] += 1
            continue
        assert address is not None
        seen.add(address)
        soft += consent is None
        # the consent column shows the answer the export went by: the address's latest, under any id
        values = {**c, "email": email, "phone": phone, "total_spent": c.get("net_total", c.get("total_spent")),
                  f"{channel}_consent": consent,
                  "tags": f"{segment}, {c.get('rfm_segment') or ''}".rstrip(", ")}  # fmt: skip
        rows.append([_cell(values.get(field)) for field in layout.values()])
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
    """Write a CSV through a temporary file in the same folder, then rename: never a half-written file.

    Every cell is neutralised (:func:`crm_winback.files.neutralise`).
    """
    out = check_output(path, (".csv",))
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([neutralise(h) for h in header])
        writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return out


# Each folder audiences are written to keeps a log of them, so a later export can see what an earlier one did:
# an audience exported with a suppression list must never come back without one (the unsubscribed would be
# mailed again), and a file is never replaced unless the user asks.
EXPORT_LOG = "crm-winback-exports.json"


def _read_log(folder: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((folder / EXPORT_LOG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def guard_export(output: Path, segment: str, channel: Channel, suppression: str | None, force: bool) -> None:
    """Refuse an export that would drop an earlier suppression, or replace a file without ``force``."""
    log = _read_log(output.parent)
    if suppression is None:
        for name, entry in sorted(log.items()):
            if (str(entry.get("segment", "")).lower(), entry.get("channel")) == (
                segment.lower(),
                channel,
            ) and (entry.get("suppression")):
                raise InputError(
                    f"{segment} ({channel}) was exported to {output.parent / name} with the suppression list "
                    f"{entry['suppression']}; export it again with --suppress FILE (that list or a newer one): "
                    "without it the unsubscribed would be back in the audience"
                )
    if output.exists() and not force:
        earlier = log.get(output.name)
        what = (
            f" (an earlier export of {earlier.get('segment')}, {earlier.get('exported')} rows)"
            if earlier
            else ""
        )
        raise OutputExists(f"{output}: already exists{what}; replace it with --force, or write to a new name")


def record_export(output: Path, result: AudienceResult, suppression: str | None) -> None:
    """Add this export to its folder's log (see :func:`guard_export`)."""
    log = _read_log(output.parent)
    log[output.name] = {
        "segment": result.segment,
        "channel": result.channel,
        "suppression": Path(suppression).name if suppression else None,
        "exported": result.exported,
        "definition": result.definition,
    }
    write_text(output.parent / EXPORT_LOG, json.dumps(log, indent=1, sort_keys=True) + "\n")
