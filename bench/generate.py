"""Seeded synthetic order files for the benchmarks: ``python bench/generate.py 1000000 bench/out/orders_1m.csv``.

One row per order: order_id, customer_id, order_date (ISO), amount. About one customer per four lines, with
a skewed number of orders per customer, dates over two years and log-normal amounts. The same seed and size
always give the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

CHUNK = 1_000_000


def generate(lines: int, path: Path, seed: int = 20261123) -> Path:
    rng = np.random.default_rng(seed)
    customers = max(1, lines // 4)
    # Zipf-like skew: a few customers order often, most once or twice.
    weights = 1.0 / np.arange(1, customers + 1) ** 0.6
    weights /= weights.sum()
    start = dt.date(2023, 1, 1).toordinal()
    tmp = path.with_suffix(path.suffix + ".part")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("order_id,customer_id,order_date,amount\n")
        for offset in range(0, lines, CHUNK):
            n = min(CHUNK, lines - offset)
            cust = rng.choice(customers, size=n, p=weights) + 1
            days = rng.integers(0, 730, size=n)
            cents = np.round(rng.lognormal(3.6, 0.7, size=n), 2)
            dates = [dt.date.fromordinal(start + int(d)).isoformat() for d in range(730)]
            fh.write(
                "".join(
                    f"{offset + i + 1},C{c:08d},{dates[d]},{a:.2f}\n"
                    for i, (c, d, a) in enumerate(
                        zip(cust.tolist(), days.tolist(), cents.tolist(), strict=True)
                    )
                )
            )
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lines", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    args.path.parent.mkdir(parents=True, exist_ok=True)
    generate(args.lines, args.path, args.seed)


if __name__ == "__main__":
    main()
