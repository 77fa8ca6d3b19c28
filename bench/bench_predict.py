"""Benchmark: our BG/NBD + Gamma-Gamma fits against lifetimes' on the same customer summaries.

Not a test. Customers are simulated from the BG/NBD and Gamma-Gamma processes themselves (seeded, so every run
sees the same data), with CDNOW-like parameters and histories of 1..730 whole days, expressed in weeks.
lifetimes must not go into the project's environment: install it into its own venv and point at it,

    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install lifetimes
    .venv/bin/python bench/bench_predict.py --customers 100000 1000000 2500000 \\
        --lifetimes-python /tmp/bench-venv/bin/python

The summaries go to lifetimes through a temporary .npz file; each side is timed around its fit calls only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crm_winback.predict import fit_bgnbd, fit_gamma_gamma

TRUE_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # weeks, FHL 2005 CDNOW
TRUE_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}  # note 025 CDNOW

LIFETIMES_SCRIPT = """
import json, sys, time
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = np.load(sys.argv[1])
t0 = time.perf_counter()
bg = BetaGeoFitter().fit(d["x"], d["t_x"], d["T"])
t1 = time.perf_counter()
repeat = d["x"] > 0
gg = GammaGammaFitter().fit(d["x"][repeat], d["zbar"][repeat])
t2 = time.perf_counter()
print(json.dumps({"bgnbd_seconds": t1 - t0, "gamma_gamma_seconds": t2 - t1,
                  "bgnbd": {k: float(v) for k, v in bg.params_.items()},
                  "gamma_gamma": {k: float(v) for k, v in gg.params_.items()}}))
"""


def simulate(n: int, seed: int, max_days: int = 730) -> dict[str, np.ndarray]:
    """Customer summaries (x, t_x, T in weeks on a whole-day grid; zbar) drawn from the two models."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = (TRUE_BGNBD[k] for k in ("r", "alpha", "a", "b"))
    T_days = rng.integers(1, max_days + 1, n)
    T = T_days / 7.0
    rate = rng.gamma(r, 1.0 / alpha, n)
    drop = rng.beta(a, b, n)
    # repeat purchases a customer would make before dropping out (dropout follows a purchase, never precedes
    # the first repeat one), and the Poisson count while the window is open
    lifetime_purchases = rng.geometric(drop)
    in_window = rng.poisson(rate * T)
    x = np.minimum(in_window, lifetime_purchases)
    # given n arrivals in (0, T], the x-th is T times the x-th of n uniform order statistics: Beta(x, n - x + 1)
    repeat = x > 0
    share = rng.beta(np.maximum(x, 1), np.maximum(in_window - x, 0) + 1)
    t_x_days = np.where(repeat, np.clip(np.ceil(share * T_days), 1, T_days), 0)
    p, q, v = (TRUE_GAMMA_GAMMA[k] for k in ("p", "q", "v"))
    nu = rng.gamma(q, 1.0 / v, n)
    spend = rng.gamma(p * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1)))
    zbar = np.where(repeat, np.maximum(np.round(spend, 2), 0.01), 0.0)
    return {"x": x.astype(np.float64), "t_x": t_x_days / 7.0, "T": T, "zbar": zbar}


def time_ours(data: dict[str, np.ndarray]) -> dict[str, object]:
    t0 = time.perf_counter()
    bg = fit_bgnbd(data["x"], data["t_x"], data["T"], time_unit="weeks")
    t1 = time.perf_counter()
    gg = fit_gamma_gamma(data["x"], data["zbar"])
    t2 = time.perf_counter()
    return {
        "bgnbd_seconds": t1 - t0,
        "gamma_gamma_seconds": t2 - t1,
        "distinct_rows": bg.n_distinct_rows,
        "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b},
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
    }


def time_lifetimes(data: dict[str, np.ndarray], python: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "summary.npz"
        np.savez(path, **data)
        done = subprocess.run(
            [python, "-c", LIFETIMES_SCRIPT, str(path)], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        raise SystemExit(f"lifetimes run failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def max_relative_difference(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return max(abs(ours[k] - theirs[k]) / abs(theirs[k]) for k in ours)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument(
        "--lifetimes-python", metavar="PATH", help="python of a venv with lifetimes installed"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    args = parser.parse_args()
    results = []
    print("| customers | distinct rows | ours BG/NBD s | ours GG s | lifetimes BG/NBD s | lifetimes GG s "
          "| speed-up (both fits) | max rel. diff BG/NBD | max rel. diff GG |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.customers:
        data = simulate(n, args.seed)
        ours = time_ours(data)
        row: dict[str, object] = {"customers": n, "ours": ours}
        cells = [f"{n:,}", f"{ours['distinct_rows']:,}", f"{ours['bgnbd_seconds']:.2f}",
                 f"{ours['gamma_gamma_seconds']:.2f}"]  # fmt: skip
        if args.lifetimes_python:
            theirs = time_lifetimes(data, args.lifetimes_python)
            row["lifetimes"] = theirs
            ours_total = float(ours["bgnbd_seconds"]) + float(ours["gamma_gamma_seconds"])  # type: ignore[arg-type]
            theirs_total = float(theirs["bgnbd_seconds"]) + float(theirs["gamma_gamma_seconds"])
            cells += [
                f"{theirs['bgnbd_seconds']:.2f}",
                f"{theirs['gamma_gamma_seconds']:.2f}",
                f"{theirs_total / ours_total:.1f}x",
                f"{max_relative_difference(ours['bgnbd'], theirs['bgnbd']):.1e}",  # type: ignore[arg-type]
                f"{max_relative_difference(ours['gamma_gamma'], theirs['gamma_gamma']):.1e}",  # type: ignore[arg-type]
            ]
        else:
            cells += ["-"] * 5
        print("| " + " | ".join(cells) + " |", flush=True)
        results.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\ntrue parameters: BG/NBD {TRUE_BGNBD} (weeks), Gamma-Gamma {TRUE_GAMMA_GAMMA}; seed {args.seed}")
    for row in results:
        ours = row["ours"]
        print(
            f"{row['customers']:,} customers, ours: BG/NBD {_fmt(ours['bgnbd'])}, GG {_fmt(ours['gamma_gamma'])}"
        )  # type: ignore[index]
    return 0


def _fmt(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in params.items())


if __name__ == "__main__":
    sys.exit(main())
