"""Turn the quality report and the score summary into the rows the CLI prints."""

from __future__ import annotations

from .ingest.quality import QualityReport
from .scoring import ScoreSummary
from .scoring.predicted import SegmentOutlook
from .scoring.scorecard import ScorecardRow
from .tables import cell, markdown_table, pct, text_table


def _money(value: float | None, currency: str | None) -> str:
    if value is None:
        return "unavailable"
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


def quality_lines(q: QualityReport) -> list[tuple[str, str]]:
    mapping = ", ".join(f"{role}={header!r}" for role, header in q.mapping.items())
    rows = [
        ("file", q.file),
        ("format", q.file_format),
        ("layout", q.layout_label),
        ("column mapping", mapping),
        ("dates", f"{q.date_format} ({q.date_format_reason})"),
        ("money", q.money_format or "no amounts (monetary unavailable)"),
        ("currency", q.currency or "not stated in the file"),
        ("rows read / used", f"{q.rows_read:,} / {q.rows_used:,}"),
        ("customers", f"{q.customers:,} scored of {q.customer_ids_found:,} customer ids found"),
        ("orders", f"{q.orders:,}"),
        (
            "date range",
            f"{q.first_order_date} .. {q.last_order_date} ({q.history_days} days to the as-of date)",
        ),
        ("as-of date", f"{q.as_of} - {q.as_of_reason}"),
        ("gross revenue", _money(q.gross_revenue, q.currency)),
        ("refunds / returns", f"{_money(q.refunds, q.currency)} / {_money(q.returns, q.currency)}"),
        ("net revenue", _money(q.net_revenue, q.currency)),
        ("one-time buyers", pct(q.one_time_buyer_share)),
        (
            "median days between orders",
            cell(q.median_days_between_orders)
            if q.median_days_between_orders is not None
            else "n/a (no repeats)",
        ),
        ("consent columns", ", ".join(f"{k}={v!r}" for k, v in q.consent_columns.items()) or "none found"),
        (
            "confidence",
            q.confidence + (f" ({'; '.join(q.confidence_reasons)})" if q.confidence_reasons else ""),
        ),
    ]
    rows.extend(("note", note) for note in q.notes)
    return rows


def exclusion_rows(q: QualityReport) -> list[list[object]]:
    return [[e.reason, e.action, e.rows, e.orders, e.note] for e in q.exclusions]


SCORECARD_HEADERS = [
    "group",
    "customers",
    "share",
    "revenue",
    "rev share",
    "AOV",
    "avg orders",
    "median days since",
    "risk L/M/H",
    "email ok",
    "sms ok",
]


def trend(row: ScorecardRow) -> str:
    """``↑ +12`` against the previous snapshot's count, ``-`` when there is none."""
    if row.previous_customers is None:
        return "-"
    change = row.customers - row.previous_customers
    return f"{'↑' if change > 0 else '↓' if change < 0 else '→'} {change:+,}"


def scorecard_rows(rows: list[ScorecardRow], with_trend: bool = False) -> list[list[object]]:
    return [
        [
            r.group,
            r.customers,
            pct(r.share),
            r.revenue,
            pct(r.revenue_share),
            r.aov,
            r.avg_orders,
            r.median_days_since_last_order,
            f"{r.churn_risk_low}/{r.churn_risk_medium}/{r.churn_risk_high}",
            r.email_reachable,
            r.sms_reachable,
            *([trend(r)] if with_trend else []),
        ]
        for r in rows
    ]


def render_profile(q: QualityReport, fmt: str) -> str:
    table = markdown_table if fmt == "markdown" else text_table
    parts = [
        "## Data profile" if fmt == "markdown" else "DATA PROFILE",
        table(["item", "value"], [list(r) for r in quality_lines(q)]),
    ]
    if q.exclusions:
        parts += [
            "",
            "### Excluded or flagged" if fmt == "markdown" else "EXCLUDED OR FLAGGED",
            table(["reason", "action", "rows", "orders", "note"], exclusion_rows(q)),
        ]
    else:
        parts += ["", "Nothing was excluded or flagged."]
    return "\n".join(parts) + "\n"


def render_scores(q: QualityReport, s: ScoreSummary, scores_file: str | None, fmt: str) -> str:
    table = markdown_table if fmt == "markdown" else text_table
    md = fmt == "markdown"
    head = [
        ("method", s.method),
        ("as-of date", f"{s.as_of} - {q.as_of_reason}"),
        ("customers", f"{s.customers:,}"),
        ("repurchase cycle", f"{s.repurchase_cycle_days:g} days ({s.repurchase_cycle_source})"),
        ("churn risk", s.churn_risk_source),
        *_model_lines(s),
        ("confidence", q.confidence),
    ]
    for b in s.bins:
        cuts = f"; cut points {', '.join(cell(c) for c in b.cut_points)}" if b.cut_points else ""
        head.append((f"{b.dimension} score", f"{b.basis}{cuts}" + (f" - {b.note}" if b.note else "")))
    head.extend(("note", n) for n in s.notes)
    if scores_file:
        head.append(("per-customer scores", scores_file))
    card = s.scorecard
    with_trend = card.trend_from is not None
    if with_trend:
        head.append(("trend", f"change in customers since {card.trend_from}"))
    headers = [*SCORECARD_HEADERS, "trend"] if with_trend else SCORECARD_HEADERS
    parts = [
        "## Scoring" if md else "SCORING",
        table(["item", "value"], [list(r) for r in head]),
        "",
        "## Segment health scorecard" if md else "SEGMENT HEALTH SCORECARD",
        table(headers, scorecard_rows([*card.by_segment, card.total], with_trend)),
        "",
        "## By lifecycle stage" if md else "BY LIFECYCLE STAGE",
        table(headers, scorecard_rows([*card.by_lifecycle, card.total], with_trend)),
    ]
    model = s.predictions
    if model is not None and model.overall is not None:
        parts += [
            "",
            "## Model estimates by segment" if md else "MODEL ESTIMATES BY SEGMENT",
            f"{model.forecast_model} + Gamma-Gamma; CLV = expected revenue over {model.horizon_days} days (before "
            f"margin); winback days = days from the last order to the day P(alive) falls to {model.threshold:g} "
            + (
                "(quartiles; one-time buyers share the shop-level date)."
                if model.forecast_model == "BG/NBD"
                else "(quartiles; one-time buyers get their own date too)."
            ),
            table(OUTLOOK_HEADERS, outlook_rows([*model.by_segment, model.overall])),
        ]
    parts += profile_parts(s, md)
    return "\n".join(parts) + "\n"


def profile_parts(s: ScoreSummary, md: bool) -> list[str]:
    """The --profiles section: what was read and matched, consent conflicts, engagement per segment and stage."""
    p = s.profiles
    if p is None:
        return []
    table = markdown_table if md else text_table
    read = "; ".join(f"{x.file} line {x.header_line}: {x.layout_label}, {x.rows:,} rows" for x in p.sections)
    head: list[list[object]] = [
        ["read", read],
        ["profiles", f"{p.profiles:,} addresses from {p.rows:,} rows ({p.duplicates:,} duplicate rows: the "
                     "latest consent statement per address wins)"],
        ["matched customers", f"{p.matched_customers:,} of {p.customers:,} ({pct(p.match_rate)}; "
                              f"{p.matched_by_email:,} by email, {p.matched_by_phone:,} by E.164 phone)"],
        ["customers without a profile", f"{p.customers_without_profile:,}"],
        ["prospects (profiles without orders)", f"{p.prospects:,}"],
    ]  # fmt: skip
    head += [["excluded rows", f"{e.reason}: {e.rows:,}"] for e in p.excluded]
    for ch in p.consent_channels:
        head.append([f"{ch} consent", f"from the platform for {p.consent_from_platform.get(ch, 0):,} matched "
                                      "customers (the order export's flag for the rest)"])  # fmt: skip
    for c in p.conflicts:
        head.append([f"{c.channel} consent conflicts", f"platform yes / orders no: {c.platform_yes_orders_no:,}; "
                     f"platform no / orders yes: {c.platform_no_orders_yes:,} (the platform's answer is used)"])  # fmt: skip
    head += [["note", n] for n in [p.engagement_note, *p.notes]]
    parts = [
        "",
        "## Profiles and engagement" if md else "PROFILES AND ENGAGEMENT",
        table(["item", "value"], head),
    ]
    card = s.scorecard
    if p.engagement_known and card.total.engagement:
        tiers = list(card.total.engagement)
        rows = [
            [
                r.group,
                *(r.engagement or {}).values(),
                pct(r.engagement_quality) if r.engagement_quality is not None else "-",
            ]
            for r in [*card.by_segment, *card.by_lifecycle, card.total]
        ]
        parts += ["", "## Engagement by segment and stage" if md else "ENGAGEMENT BY SEGMENT AND STAGE",
                  table(["group", *tiers, "engaged or warm"], rows)]  # fmt: skip
    return parts


OUTLOOK_HEADERS = [
    "group",
    "customers",
    "mean P(alive)",
    "expected orders",
    "CLV total",
    "CLV mean",
    "winback days p25/median/p75",
    "shop-level",
    "winback passed",
]


def outlook_rows(rows: list[SegmentOutlook]) -> list[list[object]]:
    def days(r: SegmentOutlook) -> str:
        values = (r.winback_days_p25, r.winback_days_median, r.winback_days_p75)
        return "-" if r.winback_days_median is None else "/".join(cell(v) for v in values)

    return [
        [
            r.group,
            r.customers,
            f"{r.mean_p_alive:.2f}",
            r.expected_orders,
            r.clv_total,
            r.clv_mean,
            days(r),
            pct(r.shop_level_share),
            pct(r.winback_passed_share),
        ]
        for r in rows
    ]


def _model_lines(s: ScoreSummary) -> list[tuple[str, str]]:
    model = s.predictions
    if model is None:
        return []
    if model.fallback_reason is not None:
        return [("model", f"not fitted - {model.fallback_reason}")]
    params = ", ".join(f"{k} {v:g}" for k, v in model.parameters.items())
    return [
        ("model", f"{model.forecast_model} + Gamma-Gamma fitted in {model.time_unit}: {params}"),
        *(("model note", n) for n in model.notes),
    ]
