"""Issue 16's answers: the campaign calendar, the cancelled-subscriber sequence, the lapse threshold's timing, the
segment ranking, discount guardrails per segment and the key questions answered from the orders.

The numbers are computed by hand in the comments from the fixtures here; the ranking's numbers are those of the
marketplace golden (tests/golden/brief_marketplace_partial.md).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from crm_winback.api import score_file
from crm_winback.brief.api import build_brief, build_calendar_document, knowledge_lookup, rank_segments
from crm_winback.brief.assumptions import resolve
from crm_winback.brief.calendar import build_calendar, next_monday, parse_stages
from crm_winback.brief.context import Context, load_context
from crm_winback.brief.guardrails import discount_guardrails
from crm_winback.brief.library import Sequence, SequenceStep, load_library
from crm_winback.brief.measures import drop_out
from crm_winback.brief.plan import threshold_timing
from crm_winback.brief.priority import RiskRow, ValueAtRisk
from crm_winback.cli import main
from crm_winback.errors import InputError

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "brief"

# A, B repeat (3 and 2 orders), C and D once, all in early 2024; E's single order sets the as-of date to 2024-12-31
TINY = (
    "customer,date,amount\n"
    "A,2024-01-01,40\nA,2024-02-01,40\nA,2024-03-01,40\n"
    "B,2024-01-05,60\nB,2024-02-05,60\n"
    "C,2024-01-10,20\nD,2024-01-15,20\nE,2024-12-31,30\n"
)


def test_next_monday_is_strictly_after_the_day() -> None:
    assert next_monday(dt.date(2026, 11, 30)) == dt.date(2026, 12, 7)  # a Monday -> the next one
    assert next_monday(dt.date(2026, 12, 6)) == dt.date(2026, 12, 7)  # a Sunday -> the day after
    assert next_monday(dt.date(1998, 6, 30)) == dt.date(1998, 7, 6)  # CDNOW's as-of date, a Tuesday


def test_stages_are_read_as_the_operator_writes_them_and_unknown_ones_refused() -> None:
    assert parse_stages("new, VIPs,lapsed") == ["new", "VIP", "lapsed"]
    assert parse_stages("At-Risk,at-risk") == ["at-risk"]
    assert parse_stages(None) is None and parse_stages(" ") is None
    with pytest.raises(
        InputError, match=r"--stages vipz: not a lifecycle stage; choose from new, active, VIP"
    ):
        parse_stages("new,vipz")


def test_calendar_dates_each_stage_flow_from_the_start_in_the_operators_stage_order() -> None:
    lib = load_library()
    r = resolve(load_context(DATA / "skincare_notes.yaml"), lib)
    cal = build_calendar(lib, r, None, dt.date(2026, 1, 5), 13, ["new", "VIP", "lapsed"])
    assert cal.stages == ["new", "VIP", "lapsed"]
    assert cal.flows == [("new", "Welcome / onboarding"), ("VIP", "VIP"), ("lapsed", "Winback")]
    lapsed = [(s.week, s.date, s.channel) for s in cal.sends if s.stage == "lapsed"]
    # the winback flow's steps are 0, 7, 14 (SMS) and 21 days after its first: Mondays from 2026-01-05
    assert lapsed == [
        (1, "2026-01-05", "email"),
        (2, "2026-01-12", "email"),
        (3, "2026-01-19", "sms"),
        (4, "2026-01-26", "email"),
    ]
    assert all(s.customers is None for s in cal.sends)  # no orders: sizes are not invented
    assert any(line.startswith("sms: at most one text per 24 hours") for line in cal.caps)


def test_calendar_keeps_the_sms_caps_and_drops_a_second_discount_within_90_days() -> None:
    lib = load_library()
    texts = [SequenceStep(day=0, channel="sms", content=f"text {i}", goal="g") for i in range(10)]
    offers = [
        SequenceStep(day=40, channel="email", content="a discount step", goal="g"),
        SequenceStep(day=50, channel="email", content="another discount step", goal="g"),
    ]
    flow = Sequence(
        id="winback", name="Test flow", trigger="t", goal="g", exit_when="e", stages=["lapsed"],
        steps=texts + offers,
    )  # fmt: skip
    flows = [flow if s.id == "winback" else s for s in lib.sequences.sequences]  # the lapsed stage's flow
    lib = lib.model_copy(update={"sequences": lib.sequences.model_copy(update={"sequences": flows})})
    r = resolve(load_context(DATA / "skincare_notes.yaml"), lib)
    cal = build_calendar(lib, r, None, dt.date(2026, 1, 5), 13, ["lapsed"])
    # one text a day (24 hours) for days 0-7, then eight in 30 days: the 9th waits to day 30, the 10th to day 31
    assert [s.day for s in cal.sends if s.channel == "sms"] == [0, 1, 2, 3, 4, 5, 6, 7, 30, 31]
    assert [s.content for s in cal.sends if "discount" in s.content] == ["a discount step"]
    assert sum("moved from day 0 to day" in line for line in cal.moved) == 9
    assert any("another discount step (email): dropped - a second discounted send" in m for m in cal.moved)


def test_calendar_on_orders_starts_the_monday_after_the_as_of_date_with_the_stage_sizes(
    tmp_path: Path,
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(TINY)
    doc = build_calendar_document(Context(), orders=orders, stages=["churned", "new"])
    assert doc.calendar.start == "2025-01-06"  # as-of 2024-12-31 is a Tuesday
    assert "the Monday after the data's as-of date 2024-12-31" in doc.calendar.start_basis
    new = [s for s in doc.calendar.sends if s.stage == "new"]
    assert new and all(s.customers == 1 for s in new)  # E, a single order on the as-of date
    assert "| 1 | 2025-01-06 |" in doc.markdown


def test_cli_calendar_writes_json_and_refuses_a_bad_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    context = DATA / "skincare_notes.yaml"
    argv = [
        "calendar",
        "--context",
        str(context),
        "--start",
        "2026-01-05",
        "--stages",
        "lapsed",
        "--format",
        "json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["date"] for s in out["sends"]] == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    assert main(["calendar", "--start", "05/01/2026"]) == 2
    assert "--start 05/01/2026: not a date; write it as YYYY-MM-DD" in capsys.readouterr().err


def test_cancelled_subscribers_get_their_own_sequence_with_consent_and_quiet_hours() -> None:
    doc = build_brief(Context(goal="winback_subscribers", business_type="subscription", region="US"))
    section = doc.markdown.split("### Cancelled subscriber winback", 1)[1].split("\n### ", 1)[0]
    assert "| 21 | sms | restart link with the skip/pause option" in section
    assert "SMS: only to numbers with recorded SMS marketing consent" in section
    assert "quiet hours: texts only 10am-8pm in the recipient's local time" in section
    ids = [i["id"] for i in knowledge_lookup("sequences", segment="churned").items]
    assert "subscriber-winback" in ids
    cal = build_calendar_document(Context(goal="winback_subscribers")).calendar
    assert cal.stages[0] == "churned" and cal.flows[0] == ("churned", "Cancelled subscriber winback")


def test_an_assumed_goal_is_said_where_the_goal_is_stated() -> None:
    head = build_brief(Context(vertical="skincare", business_type="dtc")).markdown.split("\n## ", 1)[0]
    assert "goal: reactivate lapsed buyers (assumed: no goal was given - confirm it or name yours" in head
    given = build_brief(Context(goal="increase_ltv")).markdown.split("\n## ", 1)[0]
    assert "goal: increase customer lifetime value;" in given


def test_the_lapse_threshold_is_compared_with_the_cycle() -> None:
    lib = load_library()
    early = resolve(Context(lapse_days=30, repurchase_cycle_days=60), lib)
    assert threshold_timing(early, None) == (
        "Timing: your 30-day threshold is 0.5x the repurchase cycle of 60 days (given): it comes before the usual "
        "gap between orders, so many of these customers are simply not due yet; a threshold of 120 days (two "
        "cycles) waits until they have missed a reorder."
    )
    late = resolve(Context(lapse_days=400, repurchase_cycle_days=60), lib)
    assert "6.7x the repurchase cycle" in threshold_timing(late, None)
    assert "re-engagement flow from day 60 (the at-risk stage)" in threshold_timing(late, None)


def _risk(*rows: tuple[str, int, float, float]) -> ValueAtRisk:
    return ValueAtRisk(
        rows=[
            RiskRow(rank=i, segment=name, customers=n, revenue=rev, p_not_returning=p, reachable_share=1.0,
                    value_at_risk=rev * p)
            for i, (name, n, rev, p) in enumerate(rows, 1)
        ],
        revenue_source="r", risk_source="r", reach_source="r", start_with="s",
    )  # fmt: skip


def test_discount_guardrails_follow_expected_value_margin_and_the_operators_maximum() -> None:
    lib = load_library()  # ladder 10%, 15%, 20%; margin floor 35%; discount only from 50% not returning
    r = resolve(Context(gross_margin=0.5, max_discount=0.15), lib)
    risk = _risk(("X", 10, 1000.0, 0.6), ("Y", 10, 200.0, 0.8), ("Z", 10, 1000.0, 0.3))
    g = discount_guardrails(lib, r, {"X": 50.0, "Y": 40.0, "Z": 50.0}, risk)
    assert g is not None
    rows = {row.segment: row for row in g.rows}
    # X: 100 a customer x 40% returning x 50% margin = 20.00; 15% costs 7.50 and keeps (0.5-0.15)/0.85 = 41% margin
    assert (rows["X"].expected_profit, rows["X"].deepest, rows["X"].cost) == (20.0, 0.15, 7.5)
    assert rows["X"].why == "up to 15%; not more: 20% is over your maximum of 15%"
    # Y: 20 x 20% x 50% = 2.00 expected; 10% of a 40.00 order is 4.00
    assert (rows["Y"].expected_profit, rows["Y"].deepest) == (2.0, 0.0)
    assert rows["Y"].why == "no discount: 10% costs 4.00 USD an order, more than the 2.00 USD expected"
    # Z: most return anyway
    assert rows["Z"].deepest == 0.0 and rows["Z"].why.startswith("no discount: 30.0% not expected to return")
    # the operator's maximum wins over the ladder
    tight = discount_guardrails(
        lib, resolve(Context(gross_margin=0.5, max_discount=0.05), lib), {"X": 50.0}, risk
    )
    assert tight is not None
    assert [(x.segment, x.deepest, x.why) for x in tight.rows] == [
        ("X", 0.0, "no discount: 10% is over your maximum of 5%")
    ]


def test_segments_ranked_by_value_at_risk_with_the_formula() -> None:
    risk = rank_segments(
        load_context(DATA / "marketplace_partial.yaml"), orders=DATA / "marketplace_orders.csv"
    )
    assert risk is not None
    assert "customers x 12-month revenue per customer x P(not returning) x reachable share" in risk.formula
    # as in tests/golden/brief_marketplace_partial.md: 2,535 x 71.4% x 50% = 905
    top = risk.rows[0]
    assert (top.rank, top.segment, top.customers, round(top.value_at_risk)) == (1, "Hibernating", 28, 905)
    assert [row.rank for row in risk.rows] == list(range(1, len(risk.rows) + 1))
    assert [row.value_at_risk for row in risk.rows] == sorted(
        (row.value_at_risk for row in risk.rows), reverse=True
    )


def test_cli_priority_prints_the_ranked_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["priority", "--context", str(DATA / "marketplace_partial.yaml"), "--orders", str(DATA / "marketplace_orders.csv")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| 1 | Hibernating | 28 | 2,535 | 90.54 | 71.4% | 50.0% | 905 |" in out
    assert out.rstrip().endswith("905 USD at risk, the most of any segment.")


def test_drop_out_counts_second_and_third_orders_among_customers_old_enough(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(TINY)
    result, scored = score_file(orders, keep=True)
    assert scored is not None
    try:
        d = drop_out(scored)
    finally:
        scored.ingested.close()
    # E's first order is on the as-of date: too recent. Of A-D, A and B reordered, A a third time.
    assert (d.customers, d.second, d.third) == (4, 2, 1)
    assert d.window_days == round(2 * result.scoring.repurchase_cycle_days)
    text = build_brief(Context(), orders=orders).markdown
    assert (
        "Answer: between the first and second order: 50.0% of customers never ordered again (2 of 4); of those "
        "with a second order, 50.0% stopped before a third (1 of 2)"
    ) in text
    assert "To settle with the team: the orders cannot tell: bring acquisition spend" in text
