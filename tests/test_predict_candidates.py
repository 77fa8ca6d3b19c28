"""The purchase models behind predict.candidates: Pareto/NBD, MBG/NBD, MBG/CNBD-k, and the summary's litt column.

Reference numbers, each with its source:
- CDNOW sample (2,357 customers, weeks, calibration to 1997-09-30), Pareto/NBD: r = 0.553, alpha = 10.578,
  s = 0.606, beta = 11.669, LL = -9595.0 (Fader, Hardie & Lee 2005, "A Note on Deriving the Pareto/NBD Model and
  Related Expressions", and FHL 2005 Marketing Science section 7; also lifetimes tests/test_estimation.py
  ``test_params_out_is_close_to_Hardie_paper``).
- The R BTYD walkthrough (vignette "BTYD-walkthrough", Pareto/NBD section; quoted in lifetimes
  tests/test_estimation.py): params 0.5534, 10.5802, 0.6061, 11.6562; P(alive | x = 26, t_x = 30.86, T = 31)
  = 0.9979; E[purchases in the next 52 weeks | same customer] = 25.46; E[X(t)] for t = 1..9.
- MBG/NBD on CDNOW: r = 0.525, alpha = 6.183, a = 0.891, b = 1.614 (BTYDplus ``mbgnbd.EstimateParameters``, as
  pinned in lifetimes tests/test_estimation.py ``test_params_out_is_close_to_BTYDplus``), LL = -9582.136
  (mplatzer/paper-bgcnbdk R/empirical.R, ``show_stats`` comments: the authors' BTYDplus runs for Reutterer,
  Platzer & Schroeder 2020).
- Grocery (BTYDplus groceryElog, 1,525 customers, weeks, calibration to 2006-12-31): from mplatzer/paper-bgcnbdk
  results/emp-param-stats.csv (parameters to 2 decimals) and R/empirical.R (LL to 3 decimals):
  BG/NBD r 0.35 alpha 2.58 a 0.5 b 3.64 LL -15836.566; MBG/NBD r 1.26 alpha 6.04 a 0.37 b 0.72 LL -15781.939;
  MBG/CNBD-k k 2 r 1.33 alpha 2.81 a 0.42 b 0.79 LL -14978.211. BTYDplus demo/mbg-cnbd-k.R: "k=2"; demo/cdnow.R:
  "k=1 -> no regularity detected for CDNow".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from crm_winback.ingest import load_orders
from crm_winback.predict.summary import summarize

SMALL = """customer_id,order_date,amount
A,2024-01-01,10
A,2024-01-01,5
A,2024-01-11,20
A,2024-01-31,30
A,2024-02-20,5
B,2024-01-20,40
C,2024-01-05,8
C,2024-02-15,9
"""


def test_summary_litt_sums_the_logs_of_the_gaps_between_purchase_days(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text(SMALL, encoding="utf-8")
    ingested = load_orders(path)
    try:
        days = summarize(ingested.con, dt.date(2024, 2, 10), "days")
        weeks = summarize(ingested.con, dt.date(2024, 2, 10), "weeks")
    finally:
        ingested.close()
    # A: purchase days 01-01 (two orders, one purchase day), 01-11, 01-31 -> gaps of 10 and 20 days; B and C
    # have one purchase day by 02-10, so no gap (litt 0, as BTYDplus elog2cbs gives for x = 0)
    np.testing.assert_allclose(days.litt, [np.log(10) + np.log(20), 0.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(weeks.litt, [np.log(10 / 7) + np.log(20 / 7), 0.0, 0.0], rtol=1e-12)
    assert days.x.tolist() == [2, 0, 0] and days.t_x.tolist() == [30, 0, 0]  # the other columns unchanged
