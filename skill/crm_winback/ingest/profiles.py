"""Read the email/SMS platform's profile exports (--profiles) and join them to the scored customers.

Klaviyo profile exports, Mailchimp audience exports (subscribed / unsubscribed / cleaned, in separate files or
pasted under each other) and the Shopify customers export are told apart by their header
(``knowledge/profile_layouts.yaml``). Each address's consent per channel is the latest statement found for it
across rows and files (undated statements are older than dated ones; on a tie "no" wins); engagement tiers come
from the last click / open / active dates (``knowledge/engagement.yaml``), clicks weighted over opens.

Customers are matched by the normalised email (trimmed, lower case: the order export's own rule), then, for
customers without an email match, by the E.164 phone number. The platform's consent replaces the order
export's flag where the platform states one; the differences are counted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
from pydantic import Field, model_validator

from .. import workdb
from ..errors import InputError
from ..knowledge import KnowledgeModel, load_knowledge
from ..models.profiles import ConsentConflict, ProfileExclusion, ProfileReport, ProfileSection
from ..phones import international_e164
from ..workdb import first_row
from .mapping import normalize_header

Answer = Literal["yes", "no", "none"]
ROLES = (
    "email", "phone", "email_consent", "sms_consent", "email_consent_at", "sms_consent_at", "last_open",
    "last_click", "last_active",
)  # fmt: skip
SIGNALS = ("last_click", "last_open", "last_active")
# the columns the scores gain with --profiles
PROFILE_COLUMNS = ("engagement_tier", "last_click_date", "last_open_date")
UNKNOWN_TIER = "unknown"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MAX_CELL = 1 << 20


class ConsentValues(KnowledgeModel):
    yes: list[str] = Field(default_factory=list)
    no: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)

    def lookup(self) -> dict[str, Answer]:
        found: dict[str, Answer] = {}
        answers: tuple[Answer, ...] = ("yes", "no", "none")
        for answer in answers:
            for value in getattr(self, answer):
                found[consent_key(value)] = answer
        return found


class ProfileLayout(KnowledgeModel):
    name: str
    label: str
    source: str
    requires: list[str] = Field(min_length=1)
    any_of: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(default_factory=list)
    columns: dict[Literal[ROLES], list[str]]  # type: ignore[valid-type]
    consent_values: ConsentValues = Field(default_factory=ConsentValues)
    fixed_email_consent: Answer | None = None

    def matches(self, normalized: set[str], strict: bool = True) -> bool:
        needs = {normalize_header(h) for h in self.requires}
        any_of = {normalize_header(h) for h in self.any_of}
        excludes = {normalize_header(h) for h in self.excludes} if strict else set()
        return needs <= normalized and (not any_of or bool(any_of & normalized)) and not excludes & normalized


class ProfileLayouts(KnowledgeModel):
    sources: dict[str, str]
    layouts: list[ProfileLayout] = Field(min_length=1)

    @model_validator(mode="after")
    def _sources_known(self) -> ProfileLayouts:
        for layout in self.layouts:
            if layout.source not in self.sources:
                raise ValueError(
                    f"layout {layout.name}: source {layout.source!r} is not listed under sources"
                )
        return self


class Tier(KnowledgeModel):
    name: str
    max_days: int | None = Field(default=None, ge=0)


class Signal(KnowledgeModel):
    name: Literal["last_click", "last_open", "last_active"]
    demote: int = Field(ge=0)


class SunsetRule(KnowledgeModel):
    tier: str
    rule: str
    source: str


class EngagementRules(KnowledgeModel):
    tiers: list[Tier] = Field(min_length=2)
    signals: list[Signal] = Field(min_length=1)
    why_clicks_over_opens: str
    why_clicks_over_opens_source: str
    quality_tiers: list[str] = Field(min_length=1)
    sunset: SunsetRule
    unknown_note: str

    @model_validator(mode="after")
    def _ordered(self) -> EngagementRules:
        days = [t.max_days for t in self.tiers]
        if days[-1] is not None or any(d is None for d in days[:-1]):
            raise ValueError(
                "tiers: every tier but the last needs max_days; the last has none (beyond or never)"
            )
        bounded = [d for d in days if d is not None]
        if bounded != sorted(bounded) or len(set(bounded)) != len(bounded):
            raise ValueError("tiers: list the tiers from the most engaged (smallest max_days) down")
        names = self.names()
        for name in [*self.quality_tiers, self.sunset.tier]:
            if name not in names:
                raise ValueError(f"{name!r} is not one of the tiers ({', '.join(names)})")
        return self

    def names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def tier(self, ages: Mapping[str, int | None]) -> str:
        """The best tier any signal earns: its age against the tiers, moved down by the signal's demote."""
        last = len(self.tiers) - 1
        best = last
        for signal in self.signals:
            age = ages.get(signal.name)
            if age is None:
                continue
            level = next(
                i for i, t in enumerate(self.tiers) if t.max_days is None or max(age, 0) <= t.max_days
            )
            best = min(best, min(level + signal.demote, last))
        return self.tiers[best].name


def profile_layouts() -> ProfileLayouts:
    return load_knowledge("profile_layouts.yaml", ProfileLayouts)


def engagement_rules() -> EngagementRules:
    return load_knowledge("engagement.yaml", EngagementRules)


def consent_key(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def normalise_email(value: str | None) -> str | None:
    """The order export's rule: trimmed and lower-cased."""
    text = (value or "").strip().lower()
    return text or None


# --- reading -------------------------------------------------------------------------------------------------


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise InputError(f"--profiles {path}: a folder, not a file; give the exported CSV")
        if not path.is_file():
            raise InputError(f"--profiles {path}: file not found; check the path")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"--profiles {path}: cannot be read ({exc.strerror}); check the path") from None
    return _decode(path, data)


def _layout_for(cells: list[str], layouts: list[ProfileLayout]) -> list[ProfileLayout]:
    """The layout of a header line: one, none, or several (a mixed export).

    Several platforms' columns in one header (ignoring ``excludes``), or a header two layouts of one platform
    both claim (Mailchimp's UNSUB_TIME and CLEAN_TIME together), is mixed.
    """
    normalized = {normalize_header(c) for c in cells if c.strip()}
    strict = [layout for layout in layouts if layout.matches(normalized)]
    loose = [layout for layout in layouts if layout.matches(normalized, strict=False)]
    if len(strict) == 1 and len({layout.source for layout in loose}) == 1:
        return strict
    return loose


def _date(text: str) -> dt.date | None:
    value = text.strip()
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" UTC", "")).date()
    except ValueError:
        pass
    for fmt in ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class _Statement:
    answer: Answer
    day: dt.date | None


@dataclass
class _Address:
    email: str | None
    phone: str | None
    rows: int = 0
    engagement_known: bool = False  # from an export with engagement dates
    email_consent: _Statement | None = None
    sms_consent: _Statement | None = None
    signals: dict[str, dt.date] = field(default_factory=dict)


def _later(old: _Statement | None, new: _Statement) -> _Statement:
    """The latest statement; undated ones are older than any dated one; on a tie "no" wins."""
    if old is None:
        return new

    def key(s: _Statement) -> tuple[dt.date, int]:
        return (s.day or dt.date.min, {"yes": 0, "none": 1, "no": 2}[s.answer])

    return new if key(new) > key(old) else old


@dataclass
class _Read:
    sections: list[ProfileSection] = field(default_factory=list)
    addresses: dict[str, _Address] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    national_phones: int = 0
    has_engagement: bool = False
    consent_channels: set[str] = field(default_factory=set)


def check_profiles(paths: list[str | Path]) -> None:
    """Refuse a missing or unreadable profiles file at once, before minutes of scoring the orders."""
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            raise InputError(f"--profiles {path}: a folder, not a file; give the exported CSV")
        if not path.is_file():
            raise InputError(f"--profiles {path}: file not found; check the path")


def read_profiles(paths: list[str | Path]) -> _Read:
    """Read every export into one statement per address."""
    layouts = profile_layouts().layouts
    out = _Read()
    for raw_path in paths:
        path = Path(raw_path)
        _read_file(path, _read_text(path), layouts, out)
    if not out.addresses:
        reasons = ", ".join(f"{r}: {n:,} rows" for r, n in out.excluded.items()) or "no rows"
        raise InputError(f"--profiles {', '.join(str(p) for p in paths)}: no profile with an email address or "
                         f"phone number ({reasons}); export the profiles with their email column")  # fmt: skip
    return out


def _read_file(path: Path, text: str, layouts: list[ProfileLayout], out: _Read) -> None:
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t|", key=first.count) if first else ","
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        layout: ProfileLayout | None = None
        index: dict[str, list[int]] = {}
        header: tuple[str, ...] = ()
        section: ProfileSection | None = None
        for cells in rows:
            line_no = rows.line_num  # the physical line a record ends on (a quoted cell may span lines)
            if not any(c.strip() for c in cells):
                continue
            if not any("@" in c for c in cells):
                found = _layout_for(cells, layouts)
                if len(found) > 1:
                    raise InputError(_mixed(path, line_no, found))
                if found:
                    this = tuple(normalize_header(c) for c in cells)
                    if section is not None and this == header:
                        out.excluded["repeated header line"] += 1
                        continue
                    layout, index, header = found[0], _columns(found[0], cells), this
                    section = ProfileSection(
                        file=str(path), layout=layout.name, layout_label=layout.label, header_line=line_no,
                        rows=0, columns={role: cells[i[0]].strip() for role, i in index.items()},
                    )  # fmt: skip
                    out.sections.append(section)
                    continue
            if layout is None or section is None:
                raise InputError(_unknown_header(path, cells, layouts))
            section.rows += 1
            out.rows += 1
            _take_row(path, line_no, cells, layout, index, section, out)
    except csv.Error as exc:
        raise InputError(
            f"--profiles {path}: not a CSV the reader can follow ({exc}); re-export it as CSV"
        ) from None


def _columns(layout: ProfileLayout, header: list[str]) -> dict[str, list[int]]:
    """Per role, the positions of its candidate headers present, in the layout's order of preference."""
    position: dict[str, int] = {}
    for i, h in enumerate(header):
        position.setdefault(normalize_header(h), i)
    found: dict[str, list[int]] = {}
    for role, candidates in layout.columns.items():
        present = [position[n] for n in (normalize_header(c) for c in candidates) if n in position]
        if present:
            found[role] = present
    return found


def _mixed(path: Path, line_no: int, found: list[ProfileLayout]) -> str:
    labels = " and ".join(f"{layout.label} ({', '.join(layout.requires)})" for layout in found)
    return (f"--profiles {path}: line {line_no}: a mixed export: the header has the columns of {labels}; "
            "export each platform's profiles to a file of its own and pass each with --profiles")  # fmt: skip


def _unknown_header(path: Path, cells: list[str], layouts: list[ProfileLayout]) -> str:
    known = "; ".join(f"{layout.label}: {', '.join(layout.requires)}" for layout in layouts)
    shown = ", ".join(c.strip() for c in cells[:6] if c.strip())
    return (f"--profiles {path}: the header ({shown}) is not a profile export this tool reads; it needs the "
            f"columns of one of: {known}")  # fmt: skip


def _cell(cells: list[str], index: dict[str, list[int]], role: str) -> str:
    """The role's first filled cell (Mailchimp dates a statement by CONFIRM_TIME, else OPTIN_TIME, ...)."""
    for i in index.get(role, ()):
        if i < len(cells) and cells[i].strip():
            return cells[i].strip()
    return ""


def _take_row(
    path: Path,
    line_no: int,
    cells: list[str],
    layout: ProfileLayout,
    index: dict[str, list[int]],
    section: ProfileSection,
    out: _Read,
) -> None:
    if any(len(c) > _MAX_CELL for c in cells):
        raise InputError(f"--profiles {path}: line {line_no}: a cell over 1 MB; check the export")
    raw_email = _cell(cells, index, "email")
    email = normalise_email(raw_email)
    if email is not None and not _EMAIL.fullmatch(email):
        email = None
        bad_email = True
    else:
        bad_email = False
    raw_phone = _cell(cells, index, "phone")
    phone = international_e164(raw_phone) if raw_phone else None
    if raw_phone and phone is None:
        out.national_phones += 1
    if email is None and phone is None:
        out.excluded["invalid email address and no usable phone" if bad_email else "no email or phone"] += 1
        return
    key = email if email is not None else f"tel:{phone}"
    address = out.addresses.get(key)
    if address is None:
        address = out.addresses[key] = _Address(email=email, phone=phone)
    address.rows += 1
    if address.phone is None and phone is not None:
        address.phone = phone
    values = layout.consent_values.lookup()
    for channel in ("email", "sms"):
        role = f"{channel}_consent"
        at = _stated_at(path, line_no, cells, index, section, f"{channel}_consent_at")
        if channel == "email" and layout.fixed_email_consent is not None:
            answer: Answer | None = layout.fixed_email_consent
        elif role in index:
            text = _cell(cells, index, role)
            if not text:
                continue
            answer = values.get(consent_key(text))
            if answer is None:
                header = section.columns[role]
                known = ", ".join(
                    f"{a}: {', '.join(getattr(layout.consent_values, a)) or '-'}"
                    for a in ("yes", "no", "none")
                )
                raise InputError(
                    f"--profiles {path}: column {header!r}, line {line_no}: unknown consent value {text!r}; "
                    f"{layout.label} uses {known}; correct the value (or delete the column to use the order "
                    "export's consent)"
                )
        else:
            continue
        assert answer is not None
        out.consent_channels.add(channel)
        setattr(address, role, _later(getattr(address, role), _Statement(answer, at)))
    for signal in SIGNALS:
        if signal not in index:
            continue
        out.has_engagement = address.engagement_known = True
        text = _cell(cells, index, signal)
        day = _date(text) if text else None
        if text and day is None:
            raise InputError(_bad_date(path, line_no, section.columns[signal], text))
        if day is not None and (signal not in address.signals or day > address.signals[signal]):
            address.signals[signal] = day


def _stated_at(
    path: Path,
    line_no: int,
    cells: list[str],
    index: dict[str, list[int]],
    section: ProfileSection,
    role: str,
) -> dt.date | None:
    text = _cell(cells, index, role)
    if not text:
        return None
    day = _date(text)
    if day is None:
        raise InputError(_bad_date(path, line_no, section.columns[role], text))
    return day


def _bad_date(path: Path, line_no: int, column: str, text: str) -> str:
    return (f"--profiles {path}: column {column!r}, line {line_no}: {text[:40]!r} is not a date; the export "
            "writes dates as YYYY-MM-DD HH:MM:SS, fix the value or re-export")  # fmt: skip


# --- joining -------------------------------------------------------------------------------------------------

# The order export's phone as E.164 when it carries its country (+ or 00), as crm_winback.phones.international_e164
_ORDER_PHONE_E164 = r"""CASE WHEN regexp_full_match(trim(phone), '(\+|00)[0-9\s().\-/]+')
      AND length(regexp_replace(regexp_replace(trim(phone), '^00', ''), '[^0-9]', '', 'g')) BETWEEN 8 AND 15
      AND NOT starts_with(regexp_replace(regexp_replace(trim(phone), '^00', ''), '[^0-9]', '', 'g'), '0')
    THEN '+' || regexp_replace(regexp_replace(trim(phone), '^00', ''), '[^0-9]', '', 'g') END"""


def _to_bool(statement: _Statement | None) -> str:
    if statement is None or statement.answer == "none":
        return ""
    return "true" if statement.answer == "yes" else "false"


def _write_addresses(read: _Read, as_of: dt.date, folder: Path) -> Path:
    rules = engagement_rules()
    target = folder / "profiles.csv"
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["pkey", "email", "phone", "email_consent", "sms_consent", "engagement_tier",
                         "last_click_date", "last_open_date"])  # fmt: skip
        for key, a in read.addresses.items():
            ages = {s: (as_of - d).days for s, d in a.signals.items()}
            tier = rules.tier(ages) if a.engagement_known else UNKNOWN_TIER
            writer.writerow([
                key, a.email or "", a.phone or "", _to_bool(a.email_consent), _to_bool(a.sms_consent), tier,
                a.signals["last_click"].isoformat() if "last_click" in a.signals else "",
                a.signals["last_open"].isoformat() if "last_open" in a.signals else "",
            ])  # fmt: skip
    return target


def apply_profiles(
    con: duckdb.DuckDBPyConnection,
    paths: list[str | Path],
    orders_file: str,
    as_of: dt.date,
    order_consent: dict[str, bool],
) -> ProfileReport:
    """Join the profiles to the ``scores`` table; replace its consent where the platform states one.

    ``order_consent`` says, per channel, whether the order export had a consent column. The scores gain
    :data:`PROFILE_COLUMNS`; customers without a profile get the tier ``unknown``.
    """
    read = read_profiles(paths)
    with tempfile.TemporaryDirectory(prefix="crm-winback-profiles-") as tmp:
        csv_path = _write_addresses(read, as_of, Path(tmp))
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE profiles AS SELECT * FROM read_csv({_sql_path(csv_path)},
                header = true, auto_detect = false, quote = '"', escape = '"',
                columns = {{'pkey': 'VARCHAR', 'email': 'VARCHAR', 'phone': 'VARCHAR', 'email_consent': 'BOOLEAN',
                           'sms_consent': 'BOOLEAN', 'engagement_tier': 'VARCHAR', 'last_click_date': 'DATE',
                           'last_open_date': 'DATE'}})"""
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE profile_match AS
            WITH keys AS (
                SELECT customer_id,
                       coalesce(lower(trim(email)), CASE WHEN contains(customer_id, '@') THEN lower(trim(customer_id)) END)
                           AS email_key,
                       {_ORDER_PHONE_E164} AS phone_key
                FROM scores),
            by_email AS (SELECT k.customer_id, p.pkey, 'email' AS matched_by
                         FROM keys k JOIN profiles p ON p.email = k.email_key),
            by_phone AS (SELECT k.customer_id, min(p.pkey) AS pkey, 'phone' AS matched_by
                         FROM keys k JOIN profiles p ON p.phone = k.phone_key
                         WHERE k.customer_id NOT IN (SELECT customer_id FROM by_email)
                         GROUP BY k.customer_id)
            SELECT * FROM by_email UNION ALL SELECT * FROM by_phone"""
    )
    counts = first_row(
        con.execute(
            """SELECT (SELECT count(*) FROM scores), count(*), count(*) FILTER (WHERE matched_by = 'email'),
                  count(*) FILTER (WHERE matched_by = 'phone'),
                  (SELECT count(*) FROM profiles WHERE pkey NOT IN (SELECT pkey FROM profile_match))
           FROM profile_match"""
        )
    )
    assert counts is not None
    customers, matched, by_email, by_phone, prospects = (int(v) for v in counts)
    files = ", ".join(str(p) for p in paths)
    if matched == 0:
        raise InputError(
            f"--profiles {files}: none of its {len(read.addresses):,} addresses matches a customer of "
            f"{orders_file}; check that both exports come from the same shop and that the orders carry the "
            "customers' email (an email column, or the email as the customer key; --map email=COLUMN)"
        )
    conflicts = []
    platform_counts: dict[str, int] = {}
    for channel in ("email", "sms"):
        col = f"{channel}_consent"
        row = first_row(
            con.execute(
                f"""SELECT count(p.{col}),
                       count(*) FILTER (WHERE p.{col} AND NOT s.{col}),
                       count(*) FILTER (WHERE NOT p.{col} AND s.{col})
                FROM scores s JOIN profile_match m USING (customer_id) JOIN profiles p USING (pkey)"""
            )
        )
        assert row is not None
        platform_counts[channel] = int(row[0])
        if channel in read.consent_channels and order_consent.get(channel):
            conflicts.append(
                ConsentConflict(
                    channel=channel, platform_yes_orders_no=int(row[1]), platform_no_orders_yes=int(row[2])
                )
            )
    with workdb.in_order(con):
        con.execute(
            """CREATE OR REPLACE TABLE scores AS
               SELECT s.* REPLACE (coalesce(p.email_consent, s.email_consent) AS email_consent,
                                   coalesce(p.sms_consent, s.sms_consent) AS sms_consent),
                      coalesce(p.engagement_tier, 'unknown') AS engagement_tier,
                      p.last_click_date, p.last_open_date
               FROM scores s LEFT JOIN profile_match m USING (customer_id) LEFT JOIN profiles p USING (pkey)
               ORDER BY s.customer_id"""
        )
    tiers = dict(con.execute("SELECT engagement_tier, count(*) FROM scores GROUP BY 1").fetchall())
    rules = engagement_rules()
    order = [*rules.names(), UNKNOWN_TIER]
    notes = []
    if read.national_phones:
        notes.append(f"{read.national_phones:,} profile phone numbers have no country code (+ or 00): not "
                     "matched by phone")  # fmt: skip
    if not read.has_engagement:
        notes.append("the export has no last open / click dates (Mailchimp audience and Shopify customers "
                     "exports do not carry them): engagement stays unknown; a Klaviyo profile export has them")  # fmt: skip
    duplicates = sum(a.rows - 1 for a in read.addresses.values())
    return ProfileReport(
        files=[str(p) for p in paths],
        sections=read.sections,
        rows=read.rows,
        excluded=[ProfileExclusion(reason=r, rows=n) for r, n in sorted(read.excluded.items())],
        profiles=len(read.addresses),
        duplicates=duplicates,
        customers=customers,
        matched_customers=matched,
        matched_by_email=by_email,
        matched_by_phone=by_phone,
        match_rate=round(matched / customers, 4) if customers else 0.0,
        customers_without_profile=customers - matched,
        prospects=prospects,
        consent_channels=sorted(read.consent_channels),
        consent_from_platform={c: n for c, n in platform_counts.items() if c in read.consent_channels},
        conflicts=conflicts,
        engagement_known=read.has_engagement,
        engagement_tiers={t: int(tiers.get(t, 0)) for t in order},
        engagement_note=rules.why_clicks_over_opens if read.has_engagement else rules.unknown_note,
        notes=notes,
    )


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def platform_answers(
    paths: list[str | Path], channel: Literal["email", "sms"], as_of: dt.date
) -> tuple[dict[str, bool], set[str]]:
    """Per address (email in lower case, phone in E.164), the platform's latest consent for ``channel``; and
    the email addresses in the sunset tier on ``as_of`` (empty for SMS, and for exports without engagement).
    """
    read = read_profiles(paths)
    rules = engagement_rules()
    answers: dict[str, bool] = {}
    sunset: set[str] = set()
    for a in read.addresses.values():
        statement = a.email_consent if channel == "email" else a.sms_consent
        address = a.email if channel == "email" else a.phone
        if address is None:
            continue
        if statement is not None and statement.answer != "none":
            answers[address] = statement.answer == "yes"
        if channel == "email" and a.engagement_known:
            ages = {s: (as_of - d).days for s, d in a.signals.items()}
            if rules.tier(ages) == rules.sunset.tier:
                sunset.add(address)
    return answers, sunset
