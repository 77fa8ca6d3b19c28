"""The shared real datasets load with their known counts."""

from __future__ import annotations

from crm_winback.api import profile_file, score_file
from crm_winback.ingest import IngestOptions

from .paths import CDNOW, TODAY, shared_file


def test_cdnow_master_bundled_example() -> None:
    q = profile_file(CDNOW, IngestOptions(today=TODAY))
    assert (q.rows_read, q.customers, q.orders, q.net_revenue) == (69659, 23570, 69659, 2500315.63)
    assert (str(q.first_order_date), str(q.last_order_date)) == ("1997-01-01", "1998-06-30")
    assert q.layout == "orders" and q.date_format == "YYYYMMDD"
    # 80 rows of $0 (kept and flagged) and 255 identical rows (kept: the file has no order id)
    assert [(e.reason, e.action, e.rows) for e in q.exclusions] == [
        ("zero-value order", "flagged", 80),
        ("identical rows", "flagged", 255),
    ]
    assert (q.repeat_customers, q.median_days_between_orders, q.confidence) == (11662, 34.0, "high")


def test_online_retail_cancellations_and_missing_customers() -> None:
    q = profile_file(shared_file("online_retail", "online_retail.csv.gz"), IngestOptions(today=TODAY))
    assert q.rows_read == 541909
    assert q.customer_ids_found == 4372  # every CustomerID in the file
    assert q.customers == 4339  # 33 of them only have cancellation invoices: nothing to score
    reasons = {e.reason: (e.rows, e.orders) for e in q.exclusions}
    assert reasons["duplicate row"] == (5268, None)
    assert reasons["no customer id"] == (135037, 3710)  # 135,080 lines less 43 exact duplicates among them
    assert reasons["return or cancellation document"] == (8872, 3654)
    assert q.layout == "line_items" and q.orders == 18536
    assert (q.gross_revenue, q.returns, q.net_revenue) == (8887208.89, -608689.47, 8278519.42)


def test_grocery_event_log_scores_without_monetary() -> None:
    result, _ = score_file(shared_file("grocery", "groceryElog.csv"), IngestOptions(today=TODAY))
    q = result.quality
    assert (q.customers, q.orders, q.layout, q.monetary_available, q.net_revenue) == (
        1525,
        10483,
        "event_log",
        False,
        None,
    )
    m = next(b for b in result.scoring.bins if b.dimension == "M")
    assert m.basis == "unavailable" and m.bins_filled == 0
    assert all(row.revenue is None and row.aov is None for row in result.scoring.scorecard.by_segment)
    assert sum(row.customers for row in result.scoring.scorecard.by_segment) == 1525
