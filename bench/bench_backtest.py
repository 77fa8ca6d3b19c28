"""The backtest table on every real dataset in ../shared/data: which churn ranking wins on the shop's own past.

Not a test, and no timing claims. For each dataset the history is split (the fixed splits of issue 14 for CDNOW
and grocery, the backtest's own rule for Online Retail), every candidate model is fitted on the calibration part
and scored on the holdout beside recency alone and the naive "same rate as before":

    .venv/bin/python bench/bench_backtest.py            # markdown table on stdout
    .venv/bin/python bench/bench_backtest.py --winback  # and the winback-date rules per lifecycle stage

Each ranking's churn-risk bands are measured (isotonic regression of the no-order share on the ranking, edges
where it reaches knowledge/lifecycle.yaml's levels); "band gap, held out" is the largest |predicted - observed|
no-order share over the bands, predicted from the other half of the customers; "raw P gap" is the model's own
probability banded at the same levels, before measuring.

tests/test_backtest.py pins the same numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from crm_winback.ingest import IngestOptions, load_orders
from crm_winback.models.backtest import BacktestReport
from crm_winback.predict.backtest import run_backtest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DATASETS = (
    ("CDNOW master", SHARED / "cdnow" / "CDNOW_master.txt", dt.date(1997, 9, 30), dt.date(1998, 6, 30)),
    ("grocery", SHARED / "grocery" / "groceryElog.csv", dt.date(2006, 12, 31), dt.date(2007, 12, 30)),
    ("Online Retail", SHARED / "online_retail" / "online_retail.csv.gz", None, None),
)


def backtest(path: Path, calibration_end: dt.date | None, holdout_end: dt.date | None) -> BacktestReport:
    ingested = load_orders(path, IngestOptions(as_of=holdout_end))
    try:
        return run_backtest(ingested.con, ingested.as_of, calibration_end).report
    finally:
        ingested.close()


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--winback", action="store_true", help="also print the winback-date rules")
    args = parser.parse_args()
    print("| data (calibration end -> holdout end) | ranking | status | churn AUC | vs recency | band gap, held "
          "out | raw P gap | repeat orders error | MAE | sum abs err / sum actual |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    winback, bands, verdicts = [], [], []
    for name, path, calibration_end, holdout_end in DATASETS:
        if not path.exists():
            print(f"| {name} | missing: {path} | | | | | | | | |")
            continue
        r = backtest(path, calibration_end, holdout_end)
        label = f"{name} ({r.calibration_end} -> {r.history_end})"
        if r.status != "done":
            print(f"| {label} | {r.reason} | | | | | | | | |")
            continue
        recency = r.check("recency alone")
        for c in r.checks:
            gain = None if c.auc is None or recency is None or recency.auc is None else c.auc - recency.auc
            chosen = " (chosen)" if c.name == r.chosen and r.can_rank else ""
            chosen += " (forecasts)" if c.name == r.forecaster else ""
            print(
                f"| {label} | {c.name}{chosen} | {c.status} | {_num(c.auc, '.4f')} | {_num(gain, '+.4f')} | "
                f"{_num(c.calibration_gap, '.3f')} | {_num(c.raw_calibration_gap, '.3f')} | "
                f"{_pct(c.orders_error_pct)} | {_num(c.mae, '.4f')} | "
                f"{_num(c.relative_error, '.4f')} |"
            )
        winback += [(name, w) for w in r.winback]
        chosen = r.check(r.chosen)
        bands += [(name, r.chosen, b) for b in (chosen.bands if chosen else [])]
        verdicts += [(name, v) for v in r.winback_verdict]
    print("\n| data | chosen ranking | band | rule | customers | predicted no order (held out) | observed |")
    print("|---|---|---|---|---|---|---|")
    for name, ranking, b in bands:
        print(f"| {name} | {ranking} | {b.band} | {b.rule} | {b.customers:,} | {_num(b.predicted_no_order, '.3f')} | "
              f"{_num(b.observed_no_order, '.3f')} |")  # fmt: skip
    if args.winback:
        print("\n| data | rule | group | flagged in the holdout | stayed silent (precision) | median days silent "
              "when flagged |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for name, w in winback:
            print(f"| {name} | {w.rule} | {w.group} | {w.flagged:,} | {_num(w.precision, '.3f')} | "
                  f"{_num(w.median_days_silent_at_flag, '.0f')} |")  # fmt: skip
        print()
        for name, v in verdicts:
            print(f"- {name}: {v}")


if __name__ == "__main__":
    main()
