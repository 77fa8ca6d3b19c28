"""The hand-computable fixture: exact per-customer table and scorecard.

tests/data/small_orders.csv, as-of 2024-03-12 (its latest order). Worked by hand:
- A: orders 120 + 80 + 100 on 01-05, 02-04, 03-05 -> 3 orders, 300; 7 days since; gaps 30, 30.
- B: 40 on 03-01 and 60 on 03-12 (pending: kept, flagged) -> 2 orders, 100; 0 days since.
- C: 600 on 2023-10-01; the 200 order of 12-30 is refunded -> excluded. 163 days since.
- D: one zero-value order on 03-10 (kept, flagged). E: only a voided order -> not a customer.
- F: 35.50 + 45.50 in 2023-06/09 -> 81; 174 days since. Order 1007 has no customer and a duplicate row.
Fixed thresholds (seed 002): R 0-30 -> 5, 91-180 -> 2; F by orders per year; M 50-149 -> 2, 300-499 -> 4, 500+ -> 5.
Only 3 repeat customers, so the repurchase cycle is the 90-day default.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from crm_winback.api import score_file
from crm_winback.ingest import IngestOptions
from crm_winback.scoring import ScoreOptions

from .paths import TODAY

EXPECTED = [
    # id, orders, net, aov, recency, tenure, orders/yr, median gap, R, F, M, segment, stage, risk
    (
        "A",
        "3",
        "300.00",
        "100.00",
        "7",
        "67",
        "3.000",
        "30.0",
        "5",
        "2",
        "4",
        "Potential Loyalist",
        "active",
        "low",
    ),
    (
        "B",
        "2",
        "100.00",
        "50.00",
        "0",
        "11",
        "2.000",
        "11.0",
        "5",
        "2",
        "2",
        "Potential Loyalist",
        "active",
        "low",
    ),
    (
        "C",
        "1",
        "600.00",
        "600.00",
        "163",
        "163",
        "1.000",
        "",
        "2",
        "1",
        "5",
        "About to Sleep",
        "at-risk",
        "low",  # 163 days / the 90-day cycle = 1.8x, under the 2x where medium begins
    ),
    ("D", "1", "0.00", "0.00", "2", "2", "1.000", "", "5", "1", "1", "New Customers", "new", "low"),
    (
        "F",
        "2",
        "81.00",
        "40.50",
        "174",
        "271",
        "2.000",
        "97.0",
        "2",
        "2",
        "2",
        "Hibernating",
        "at-risk",
        "low",  # two purchase days: the shop's 90-day cycle; 174 / 90 = 1.9x
    ),
]
COLUMNS = (
    "customer_id",
    "orders",
    "net_total",
    "aov",
    "recency_days",
    "tenure_days",
    "orders_per_year",
    "median_days_between",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "lifecycle_stage",
    "churn_risk",
)


def test_small_fixture_per_customer_table(small_orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    score_file(small_orders, IngestOptions(today=TODAY), ScoreOptions(method="fixed"), out)
    with out.open(newline="") as fh:
        rows = [tuple(row[c] for c in COLUMNS) for row in csv.DictReader(fh)]
    assert rows == EXPECTED


def test_small_fixture_quality_report(small_orders: Path) -> None:
    result, _ = score_file(small_orders, IngestOptions(today=TODAY))
    q = result.quality
    assert (q.rows_read, q.rows_used, q.customer_ids_found, q.customers, q.orders) == (13, 9, 6, 5, 9)
    assert [(e.reason, e.action, e.rows, e.orders) for e in q.exclusions] == [
        ("duplicate row", "excluded", 1, None),
        ("no customer id", "excluded", 1, 1),
        ("refunded, voided or failed status", "excluded", 2, 2),
        ("zero-value order", "flagged", 1, 1),
        ("payment pending or authorised", "flagged", 1, 1),
    ]
    assert (q.gross_revenue, q.net_revenue, q.one_time_buyer_share, q.median_days_between_orders) == (
        1081.0,
        1081.0,
        0.4,
        30.0,
    )
    assert str(q.as_of) == "2024-03-12" and q.history_days == 271
    assert q.confidence == "low"


def test_small_fixture_scorecard(small_orders: Path) -> None:
    result, _ = score_file(small_orders, IngestOptions(today=TODAY), ScoreOptions(method="fixed"))
    card = result.scoring.scorecard
    assert [
        (
            r.group,
            r.customers,
            r.revenue,
            r.aov,
            r.avg_orders,
            r.median_days_since_last_order,
            (r.churn_risk_low, r.churn_risk_medium, r.churn_risk_high),
        )
        for r in card.by_segment
    ] == [
        ("Potential Loyalist", 2, 400.0, 80.0, 2.5, 3.5, (2, 0, 0)),
        ("New Customers", 1, 0.0, 0.0, 1.0, 2.0, (1, 0, 0)),
        ("About to Sleep", 1, 600.0, 600.0, 1.0, 163.0, (1, 0, 0)),
        ("Hibernating", 1, 81.0, 40.5, 2.0, 174.0, (1, 0, 0)),
    ]
    assert [(r.group, r.customers, r.revenue) for r in card.by_lifecycle] == [
        ("at-risk", 2, 681.0),
        ("new", 1, 0.0),
        ("active", 2, 400.0),
    ]
    assert (card.total.customers, card.total.revenue, card.total.aov) == (5, 1081.0, 120.11)
    assert [r.share for r in card.by_segment] == [0.4, 0.2, 0.2, 0.2]
    assert result.scoring.repurchase_cycle_days == 90.0


def test_quantile_method_gives_equal_values_equal_scores(small_orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.csv"
    result, _ = score_file(small_orders, IngestOptions(today=TODAY), ScoreOptions(method="quantile"), out)
    with out.open(newline="") as fh:
        rows = {
            row["customer_id"]: (row["r_score"], row["f_score"], row["m_score"]) for row in csv.DictReader(fh)
        }
    # cut k = the smallest value with at least k x 20% of customers at or below it (quantile_disc).
    # recency 7, 0, 163, 2, 174 -> cut points 0, 2, 7, 163; R = 5 - the number of cut points exceeded.
    # orders 3, 2, 1, 1, 2 -> cut points 1, 1, 2, 2: one-order customers share score 1, two-order score 3.
    assert rows == {
        "A": ("3", "5", "4"),
        "B": ("5", "3", "3"),
        "C": ("2", "1", "5"),
        "D": ("4", "1", "1"),
        "F": ("1", "3", "2"),
    }
    r_bins = next(b for b in result.scoring.bins if b.dimension == "R")
    assert r_bins.bins_filled == 5 and r_bins.cut_points == [0.0, 2.0, 7.0, 163.0]
    f_bins = next(b for b in result.scoring.bins if b.dimension == "F")
    assert f_bins.bins_filled == 3 and f_bins.cut_points == [1.0, 1.0, 2.0, 2.0]


def test_two_orders_over_eighteen_months_are_not_new_customers(tmp_path: Path) -> None:
    # X: 60 on 2020-01-01 and 60 on 2021-06-01, as-of 2021-06-10 -> 9 days since, tenure 526 days,
    # 2 x 365 / 526 = 1.39 orders a year: F 1 by the rate alone, which would name X "New Customers" (R 5 F 1).
    # A repeat customer scores F 2 at least: R 5 F 2 M 2 is Potential Loyalist. Y: one order of 60 on 06-05 is
    # F 1, R 5: New Customers, a first order within the recent window.
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,order_date,total\n1,X,2020-01-01,60\n2,X,2021-06-01,60\n3,Y,2021-06-05,60\n",
        encoding="utf-8",
    )
    out = tmp_path / "scores.csv"
    score_file(orders, IngestOptions(as_of=dt.date(2021, 6, 10), today=TODAY), ScoreOptions(), out)
    with out.open(newline="") as fh:
        rows = [
            (r["customer_id"], r["orders_per_year"], r["rfm_code"], r["rfm_segment"])
            for r in csv.DictReader(fh)
        ]
    assert rows == [("X", "1.388", "522", "Potential Loyalist"), ("Y", "1.000", "512", "New Customers")]


def test_quintiles_never_give_a_repeat_customer_f1(tmp_path: Path) -> None:
    # P, Q, R: 2 orders, S: 3, T: 4. Quintile cut points of orders are 2, 2, 2, 3 (quantile_disc), so 2 orders lie
    # above no cut point and would score F 1, the score of a single order; a repeat customer scores F 2 at least.
    lines = ["order_id,customer_id,order_date,total"]
    counts = {"P": 2, "Q": 2, "R": 2, "S": 3, "T": 4}
    for customer, n in counts.items():
        lines += [f"{customer}{i},{customer},2024-0{i + 1}-10,50" for i in range(n)]
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scores.csv"
    score_file(orders, IngestOptions(today=TODAY), ScoreOptions(method="quantile"), out)
    with out.open(newline="") as fh:
        f = {r["customer_id"]: r["rfm_code"][1] for r in csv.DictReader(fh)}
    assert f == {"P": "2", "Q": "2", "R": "2", "S": "4", "T": "5"}  # S is above three cut points, T four


def test_spend_bins_follow_a_shop_whose_aov_is_far_from_the_default(tmp_path: Path) -> None:
    # G: one order of 3,000, H: one of 300 -> AOV 1,650, 33 x the 50 the default spend bins assume (more than 5 x
    # off): the bins 50/150/300/500 become 1,650/4,950/9,900/16,500, so G scores M 2 and H M 1 (unscaled: M 5, M 4)
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,order_date,total\n1,G,2024-03-01,3000\n2,H,2024-03-02,300\n")
    out = tmp_path / "scores.csv"
    result = score_file(orders, IngestOptions(today=TODAY), ScoreOptions(), out)[0]
    with out.open(newline="") as fh:
        m = {r["customer_id"]: r["m_score"] for r in csv.DictReader(fh)}
    assert m == {"G": "2", "H": "1"}
    assert result.scoring.notes[0] == (
        "M cut points scaled x33 to 1,650, 4,950, 9,900, 16,500: the shop's AOV (1,650.00) is more than 5 times off "
        "the 50 the default spend bins assume; give --thresholds or --method quantile to choose otherwise"
    )
