"""What running a huge shop's backtest on a seeded sample (``backtest.SAMPLE`` customers) changes.

Runs the backtest on one file twice in one process, once as the product does (a huge shop's candidates fitted
and scored on a seeded sample of SAMPLE customers) and once on every customer (fits and scoring), and prints
each ranking's AUC, calibration gap and the choice side by side, with the CPU-seconds of each run:

    .venv/bin/python bench/bench_fit_sample.py bench/out/orders_10m.csv
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from crm_winback.ingest import load_orders
from crm_winback.models.backtest import BacktestReport
from crm_winback.predict import backtest


def run(path: Path, sample: int) -> tuple[BacktestReport, float]:
    ingested = load_orders(path)
    try:
        backtest.SAMPLE = sample
        start = time.process_time()
        report = backtest.run_backtest(ingested.con, ingested.as_of).report
        return report, time.process_time() - start
    finally:
        ingested.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    default = backtest.SAMPLE
    sampled, sampled_cpu = run(args.path, default)
    full, full_cpu = run(args.path, 10**12)
    print(f"{full.customers:,} customers at the calibration end {full.calibration_end}")
    print(f"| ranking | AUC, backtest on {default:,} | AUC, on all | difference | calibration gap |")
    print("|---|---:|---:|---:|---:|")
    for s in sampled.checks:
        f = full.check(s.name)
        diff = None if f is None or f.auc is None or s.auc is None else s.auc - f.auc
        gap = f"{s.calibration_gap} / {f.calibration_gap if f else None}"
        print(f"| {s.name} ({s.status}) | {s.auc} | {f.auc if f else None} | {diff} | {gap} |")
    print(f"chosen: {sampled.chosen} (sample) / {full.chosen} (all)")
    print(f"backtest CPU-seconds: {sampled_cpu:.1f} (sample) / {full_cpu:.1f} (all)")
    print("notes:", sampled.notes)


if __name__ == "__main__":
    main()
