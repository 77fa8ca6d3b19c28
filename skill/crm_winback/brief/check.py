"""Check a brief or LTV plan against the seeds' acceptance criteria and the red flags, with line references.

The document's kind comes from its ``<!-- crm-winback:KIND -->`` marker, or from its first heading.
Pattern red flags (knowledge/red_flags.yaml) ignore a match that a negation precedes in the same sentence. The
numbers, discounts and segment sizes are read against the document's own data (``check_data``): a number in
the prose must be in a table or a rendered line, or sit in a sentence marked as an assumption.
"""

from __future__ import annotations

import re

from ..models.documents import CheckReport, Criterion, Kind
from .check_data import DocumentData, Lookup, matches, mentions, read_document
from .library import OPT_OUT_WORDS, SMS_LIMIT, STAGES, RedFlag, RedFlags, load_library
from .render import SLOT_RE

# kind -> [(criterion id, description, heading words that must appear in one heading)]
REQUIRED_SECTIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "brief": [
        ("segment-framework", "segment framework section", ("segment framework",)),
        ("scorecard", "segment health scorecard section", ("scorecard",)),
        ("trigger-library", "winback trigger library section", ("trigger",)),
        ("channel-matrix", "channel suitability matrix section", ("channel",)),
        ("ideas", "message and offer ideas section", ("idea",)),
        ("sequence", "campaign sequence outline section", ("sequence",)),
        ("kpis", "KPI framework section", ("kpi",)),
        ("assumptions", "assumptions and data-quality section", ("assumption",)),
        ("next-steps", "next steps section", ("next step",)),
    ],
    "ltv-plan": [
        ("diagnosis", "segment diagnosis section", ("diagnosis",)),
        ("levers", "lever ranking section", ("lever",)),
        ("packages", "action packages section", ("action package",)),
        ("horizons", "short, medium and longer-term priorities section", ("priorit",)),
        ("measurement", "measurement notes section", ("measurement",)),
        ("limits", "assumptions and limits section", ("limit",)),
    ],
    "programme": [
        ("journey", "lifecycle journey section", ("journey",)),
        ("automation", "automation blueprints section", ("automation",)),
        ("scoring", "engagement (lead) scoring section", ("scoring",)),
        ("loyalty", "loyalty and referral section", ("loyalty",)),
        ("report", "monthly report skeleton section", ("report",)),
        ("assumptions", "assumptions section", ("assumption",)),
    ],
}
HORIZON_WORDS = {
    "short": r"\bshort[- ]term\b",
    "medium": r"\bmedium[- ]term\b",
    "long": r"\blong(er)?[- ]term\b",
}
SMS_RE = re.compile(r"\bSMS[^:\"|]{0,20}:\s*[\"“](.+?)[\"”]")


def _kind(lines: list[str]) -> Kind:
    for line in lines[:5]:
        m = re.search(r"<!-- crm-winback:(brief|ltv-plan|programme) -->", line)
        if m:
            return m.group(1)  # type: ignore[return-value]
    for line in lines:
        if line.startswith("# "):
            low = line.lower()
            if "ltv" in low or "lifetime value" in low:
                return "ltv-plan"
            if "programme" in low or "program" in low:
                return "programme"
            return "brief"
    return "unknown"


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line number, level, text) for every markdown heading outside code fences."""
    out, fenced = [], False
    for i, line in enumerate(lines, 1):
        if line.startswith("```"):
            fenced = not fenced
        m = re.match(r"(#{1,6})\s+(.*)", line)
        if m and not fenced:
            out.append((i, len(m.group(1)), m.group(2).strip()))
    return out


def _section(
    lines: list[str], heads: list[tuple[int, int, str]], words: tuple[str, ...]
) -> tuple[int, int] | None:
    """The (first, last) line numbers of the first level-2 section whose heading holds all ``words``."""
    for idx, (ln, level, text) in enumerate(heads):
        if level <= 2 and all(w in text.lower() for w in words):
            end = next((h[0] - 1 for h in heads[idx + 1 :] if h[1] <= level), len(lines))
            return ln, end
    return None


QUOTED = re.compile(r'"[^"]*"|“[^”]*”')
SENTENCE_END = re.compile(r"[.;!?](?:\s|$)")
SIZE_NUMBER = r"(?P<n>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?k?)"


# How far around a match a sentence is read: a longer sentence is cut there, so a huge line stays linear.
REACH = 300


def _sentence(text: str, start: int) -> str:
    """The sentence of ``text`` around position ``start`` (at most REACH characters either side)."""
    left = max(0, start - REACH)
    begin = max((m.end() for m in SENTENCE_END.finditer(text, left, start)), default=left)
    end = SENTENCE_END.search(text, start, start + REACH)
    return text[begin : end.start() if end else min(len(text), start + REACH)]


def _negated(text: str, start: int, rules: RedFlags, names: tuple[str, ...] = ()) -> bool:
    """Whether a negation precedes ``start`` in its sentence; ``names`` (segment names such as "Can't Lose
    Them") and the negation exceptions ("no doubt") do not count as one."""
    sentence = re.split(r"[.;!?]\s", text[max(0, start - REACH) : start])[-1].lower()
    for phrase in (*names, *rules.negation_exceptions):
        sentence = sentence.replace(phrase, " ")
    return any(re.search(rf"\b{re.escape(n)}\b", sentence) for n in rules.negations)


def _criterion(flag: RedFlag, hits: list[tuple[int, str]], passed_detail: str = "not found") -> Criterion:
    """One red flag: the first hit's line and what to do, and the other lines that have one."""
    if not hits:
        return Criterion(id=flag.id, description=flag.name, passed=True, line=None, detail=passed_detail)
    others = sorted({ln for ln, _ in hits[1:]} - {hits[0][0]})
    also = f" (also line{'s' if len(others) > 1 else ''} {', '.join(map(str, others))})" if others else ""
    return Criterion(
        id=flag.id, description=flag.name, passed=False, line=hits[0][0], detail=f"{hits[0][1]}{also}"
    )


def _checked_lines(lines: list[str]) -> list[tuple[int, str]]:
    return [(i, line.replace("’", "'")) for i, line in enumerate(lines, 1) if "<!--" not in line]


def _pattern_flags(lines: list[str], rules: RedFlags, names: tuple[str, ...]) -> list[Criterion]:
    out = []
    checked = _checked_lines(lines)
    for flag in rules.flags:
        if flag.kind != "pattern":
            continue
        hits: list[tuple[int, str]] = []
        for i, text in checked:
            line = QUOTED.sub(lambda q: " " * len(q.group(0)), text) if flag.skip_quotes else text
            for pattern in flag.patterns:
                m = next(
                    (
                        m
                        for m in re.finditer(pattern, line, re.IGNORECASE)
                        if not _negated(line, m.start(), rules, names)
                    ),
                    None,
                )
                if m:
                    hits.append((i, f"'{m.group(0)}': {flag.why}"))
                    break
        out.append(_criterion(flag, hits))
    return out


def _discount_limit(lines: list[str], rules: RedFlags) -> tuple[float, str]:
    """The deepest discount the document allows, and where that comes from."""
    for i, line in enumerate(lines, 1):
        for pattern in rules.discounts.limit_patterns:
            if m := re.search(pattern, line, re.IGNORECASE):
                return float(m.group("pct")), f"line {i}"
    default = load_library().profiles.defaults.max_discount * 100
    return default, "the default in knowledge/business_profiles.yaml (the document states none)"


def _discount_flag(lines: list[str], rules: RedFlags, names: tuple[str, ...]) -> Criterion:
    flag = next(f for f in rules.flags if f.kind == "discount_limit")
    limit, source = _discount_limit(lines, rules)
    found: list[tuple[str, float | None]] = [(p, None) for p in rules.discounts.offer_patterns]
    found += [(e.pattern, e.percent) for e in rules.discounts.equivalents]
    hits: list[tuple[int, str]] = []
    for i, line in _checked_lines(lines):
        for pattern, fixed in found:
            over = [
                m
                for m in re.finditer(pattern, line, re.IGNORECASE)
                if (fixed if fixed is not None else float(m.group("pct"))) > limit + 1e-9
                and not _negated(line, m.start(), rules, names)
            ]
            if over:
                depth = fixed if fixed is not None else float(over[0].group("pct"))
                hits.append(
                    (
                        i,
                        f"'{over[0].group(0)}' is {depth:g}% off, above the {limit:g}% maximum ({source}): "
                        f"{flag.why}",
                    )
                )
                break
    return _criterion(flag, hits, f"every discount within the {limit:g}% maximum ({source})")


def _assumed(sentence: str, rules: RedFlags) -> bool:
    low = sentence.lower()
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", low) for w in rules.numbers.assumption_markers)


def _number_flag(lines: list[str], doc: DocumentData, rules: RedFlags) -> Criterion:
    flag = next(f for f in rules.flags if f.kind == "numbers")
    low_year, high_year = rules.numbers.years
    percents, values = Lookup(doc.percents), Lookup(doc.values)
    hits: list[tuple[int, str]] = []
    for i in doc.prose:
        line = lines[i - 1]
        dates = [d for d in re.findall(r"\b\d{4}-\d{2}-\d{2}\b", line) if d not in doc.dates]
        bad = [f"'{d}'" for d in dates]
        assumed: dict[str, bool] = {}
        for m in mentions(line):
            plain = not (m.percent or m.money) and m.quantum >= 1
            if plain and (m.value <= rules.numbers.small_count or low_year <= m.value <= high_year):
                continue
            if m in (percents if m.percent else values):
                continue
            sentence = _sentence(line, m.start)
            if sentence not in assumed:
                assumed[sentence] = _assumed(sentence, rules)
            if not assumed[sentence]:
                bad.append(f"'{m.text}'")
        if bad:
            shown = ", ".join(dict.fromkeys(bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            where = "tables or rendered lines" if doc.has_digest else "tables"
            hits.append(
                (
                    i,
                    f"{shown} not in the document's {where}: quote the number from its table, or mark the "
                    "sentence as an assumption ('assumed: ...')",
                )
            )
    detail = f"{len(doc.prose)} prose lines; every number found in the data or marked as an assumption"
    return _criterion(flag, hits, detail)


def _segment_flag(lines: list[str], doc: DocumentData, rules: RedFlags) -> Criterion:
    flag = next(f for f in rules.flags if f.kind == "segments")
    seg = rules.segments
    known = set(doc.sizes) | {s.lower() for s in STAGES}
    stop = {w.lower() for w in seg.stopwords}
    nouns = "|".join(re.escape(n) for n in seg.nouns)
    named = re.compile(
        rf"[\"“']?([A-Z][\w'&+-]{{0,30}}(?:\s+[A-Z0-9][\w'&+-]{{0,30}}){{0,4}})[\"”']?\s+(?i:{nouns})\b"
    )
    sized = [
        (
            name,
            [
                re.compile(
                    p.replace("NAME", "\0").replace("N", SIZE_NUMBER).replace("\0", re.escape(name)),
                    re.IGNORECASE,
                )
                for p in seg.size_patterns
            ],
        )
        for name in sorted(doc.sizes, key=len, reverse=True)
    ]
    hits: list[tuple[int, str]] = []
    for i in doc.prose:
        line = lines[i - 1].replace("’", "'")
        problem = None
        for m in named.finditer("" if line.startswith("#") else line):  # headings name sections
            words = m.group(1).split()
            while words and words[0].lower() in stop:
                words.pop(0)
            name = " ".join(words)
            if name and name.lower() not in known and not all(w.lower() in stop for w in words):
                problem = f"'{name}' is not a segment or stage in this document: use the scorecard's names"
                break
        for name, patterns in sized if problem is None else []:
            for pattern in patterns:
                hit = pattern.search(line)
                if hit is None:
                    continue
                stated = mentions(hit.group("n"))
                if stated and not matches(stated[0], doc.sizes[name]):
                    given = ", ".join(f"{v:,}" for v in sorted(doc.sizes[name]))
                    says = f"{doc.names[name]} {given}" if given else f"no size for {doc.names[name]}"
                    problem = f"'{hit.group(0)}': the document gives {says}; quote its size from the table"
                    break
            if problem:
                break
        if problem:
            hits.append((i, problem))
    return _criterion(flag, hits, "every segment named is in the document's tables, with its size")


def _kpi_flag(lines: list[str], heads: list[tuple[int, int, str]], rules: RedFlags) -> Criterion:
    flag = next(f for f in rules.flags if f.kind == "kpi_outcomes")
    span = _section(lines, heads, ("kpi",)) or _section(lines, heads, ("measurement",))
    if span is None:
        return Criterion(
            id=flag.id,
            description=flag.name,
            passed=True,
            line=None,
            detail="no KPI or measurement section (see the section criteria)",
        )
    body = "\n".join(lines[span[0] - 1 : span[1]]).lower()
    found = [w for w in rules.outcome_metric_words if w in body]
    return Criterion(
        id=flag.id,
        description=flag.name,
        passed=bool(found),
        line=span[0],
        detail=f"outcome metrics named: {', '.join(found[:4])}" if found else flag.why,
    )


def _sms_flag(lines: list[str], rules: RedFlags) -> Criterion:
    flag = next(f for f in rules.flags if f.kind == "sms_opt_out")
    count = 0
    for i, line in enumerate(lines, 1):
        for m in SMS_RE.finditer(line):
            count += 1
            copy = m.group(1)
            if not any(w.lower() in copy.lower() for w in OPT_OUT_WORDS):
                return Criterion(
                    id=flag.id,
                    description=flag.name,
                    passed=False,
                    line=i,
                    detail="SMS copy has no opt-out; add 'Reply STOP to opt out'",
                )
            if len(copy) > SMS_LIMIT:
                return Criterion(
                    id=flag.id,
                    description=flag.name,
                    passed=False,
                    line=i,
                    detail=f"SMS copy is {len(copy)} characters; keep it within {SMS_LIMIT}",
                )
    return Criterion(
        id=flag.id,
        description=flag.name,
        passed=True,
        line=None,
        detail=f"{count} SMS copies, each with an opt-out and within {SMS_LIMIT} characters",
    )


def _segments_with_ideas(lines: list[str], heads: list[tuple[int, int, str]]) -> tuple[list[str], int | None]:
    span = _section(lines, heads, ("idea",)) or _section(lines, heads, ("action package",))
    if span is None:
        return [], None
    names = []
    subs = [h for h in heads if span[0] < h[0] <= span[1] and h[1] == 3]
    for k, (ln, _, text) in enumerate(subs):
        end = subs[k + 1][0] - 1 if k + 1 < len(subs) else span[1]
        if any(re.match(r"\s*([-*]|\d+\.|\|)\s*\S", line) for line in lines[ln:end]):
            names.append(text)
    return names, span[0]


def check_text(text: str) -> CheckReport:
    """Each acceptance criterion and red flag as pass/fail with the line it refers to."""
    rules = load_library().red_flags
    lines = text.removeprefix("\ufeff").splitlines()  # a BOM (Windows editors) would hide the title
    heads = _headings(lines)
    kind = _kind(lines)
    criteria = [
        Criterion(
            id="markdown",
            description="returns markdown text with a title",
            passed=any(h[1] == 1 for h in heads),
            line=next((h[0] for h in heads if h[1] == 1), None),
            detail="a '# ' title",
        )
    ]
    for cid, desc, words in REQUIRED_SECTIONS.get(kind, REQUIRED_SECTIONS["brief"]):
        span = _section(lines, heads, words)
        criteria.append(
            Criterion(
                id=cid,
                description=desc,
                passed=span is not None,
                line=span[0] if span else None,
                detail="found" if span else f"add a '## ' heading containing '{words[0]}'",
            )
        )
    if kind in ("brief", "ltv-plan", "unknown"):
        names, line = _segments_with_ideas(lines, heads)
        criteria.append(
            Criterion(
                id="three-segments",
                description="at least 3 distinct segments with campaign ideas",
                passed=len(set(names)) >= 3,
                line=line,
                detail=f"{len(set(names))} segments: {', '.join(names)}"
                if names
                else "no '### segment' subsections",
            )
        )
    criteria.append(_assumptions_criterion(lines, heads))
    if kind == "ltv-plan":
        for horizon, pattern in HORIZON_WORDS.items():
            ln = next((i for i, line in enumerate(lines, 1) if re.search(pattern, line, re.IGNORECASE)), None)
            criteria.append(
                Criterion(
                    id=f"{horizon}-move",
                    description=f"at least one {horizon}-term move",
                    passed=ln is not None,
                    line=ln,
                    detail="found" if ln else f"label a move '{horizon}-term'",
                )
            )
    seg = rules.segments
    doc = read_document(lines, [h.lower() for h in seg.name_headers], seg.size_header.lower())
    segment_names = tuple(sorted(doc.sizes, key=len, reverse=True))
    flags = [
        *_pattern_flags(lines, rules, segment_names),
        _discount_flag(lines, rules, segment_names),
        _number_flag(lines, doc, rules),
        _segment_flag(lines, doc, rules),
        _kpi_flag(lines, heads, rules),
        _sms_flag(lines, rules),
    ]
    slots = [f"line {i}: {m.group(1)}" for i, line in enumerate(lines, 1) for m in SLOT_RE.finditer(line)]
    return CheckReport(
        kind=kind,
        passed=all(c.passed for c in criteria + flags),
        criteria=criteria,
        red_flags=flags,
        unfilled_slots=slots,
    )


def _assumptions_criterion(lines: list[str], heads: list[tuple[int, int, str]]) -> Criterion:
    """When the data is partial (certainty below high, or unstated), assumptions must be listed."""
    cert = next(
        (
            (i, m.group(1))
            for i, line in enumerate(lines, 1)
            if (m := re.search(r"certainty:\s*\**\s*(high|medium|low)", line, re.IGNORECASE))
        ),
        None,
    )
    span = _section(lines, heads, ("assumption",))
    listed = 0
    if span:
        listed = sum(
            1 for line in lines[span[0] : span[1]] if re.match(r"\s*([-*]|\d+\.|\|(?!\s*-))\s*\S", line)
        )
    partial = cert is None or cert[1].lower() != "high"
    ok = listed > 0 or not partial
    why = f"certainty {cert[1].lower()}" if cert else "certainty not stated"
    return Criterion(
        id="assumptions-explicit",
        description="data-quality assumptions explicit when data is partial",
        passed=ok,
        line=span[0] if span else (cert[0] if cert else None),
        detail=f"{why}; {listed} assumption lines" if ok else f"{why}: list the assumptions made",
    )
