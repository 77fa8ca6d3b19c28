"""Benchmark: our BG/NBD + Gamma-Gamma fits against lifetimes' on the same customer summaries.

Not a test. Customers are simulated from the BG/NBD and Gamma-Gamma processes themselves (seeded, so every run
sees the same data), with CDNOW-like parameters and histories of 1..730 whole days, expressed in weeks.
lifetimes must not go into the project's environment: install it into its own venv and point at it,

    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install lifetimes
    .venv/bin/python bench/bench_predict.py --customers 100000 1000000 2500000 \\
        --lifetimes-python /tmp/bench-venv/bin/python

The summaries go to lifetimes through a temporary .npz file; each side is timed around its fit calls only.

With ``--orders FILE ...`` the customers come from real order files instead (for example the scoring
benchmark's, ``bench/out/orders_1m.csv`` and ``orders_10m.csv``): they are read and summarised by our own
ingestion. With ``--pymc-python`` PyMC-Marketing's MAP fits (``BetaGeoModel``, ``GammaGammaModel``, its default
priors) run on the same summaries too.
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


PYMC_SCRIPT = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
d = np.load(sys.argv[1])
ids = np.arange(len(d["x"]))
t0 = time.perf_counter()
bg = BetaGeoModel(data=pd.DataFrame({"customer_id": ids, "frequency": d["x"], "recency": d["t_x"], "T": d["T"]}))
bg.fit(method="map")
t1 = time.perf_counter()
repeat = d["x"] > 0
gg = GammaGammaModel(data=pd.DataFrame({"customer_id": ids[repeat], "frequency": d["x"][repeat],
                                        "monetary_value": d["zbar"][repeat]}))
gg.fit(method="map")
t2 = time.perf_counter()
def params(model, names):
    result = model.fit_result  # MAP: a one-draw dataset of the parameters
    return {k: float(result[k].values.ravel()[0]) for k in names}
print(json.dumps({"bgnbd_seconds": t1 - t0, "gamma_gamma_seconds": t2 - t1,
                  "bgnbd": params(bg, ["r", "alpha", "a", "b"]), "gamma_gamma": params(gg, ["p", "q", "v"])}))
"""


def from_orders(path: str) -> dict[str, np.ndarray]:
    """Customer summaries (weeks) of a real order file, read and summarised by our own ingestion."""
    from crm_winback.ingest import load_orders
    from crm_winback.predict.summary import summarize

    ingested = load_orders(path)
    try:
        s = summarize(ingested.con, ingested.as_of, "weeks")
        # zbar is undefined (NaN) for customers with no repeat purchase; the spend model ignores them
        return {"x": s.x, "t_x": s.t_x, "T": s.T, "zbar": np.where(s.x > 0, np.nan_to_num(s.zbar), 0.0)}
    finally:
        ingested.close()


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


def time_peer(data: dict[str, np.ndarray], python: str, script: str = LIFETIMES_SCRIPT) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "summary.npz"
        np.savez(path, **data)
        done = subprocess.run([python, "-c", script, str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"peer run failed:\n{done.stderr[-2000:]}")
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
    parser.add_argument("--orders", nargs="+", metavar="FILE", help="summarise these order files instead")
    parser.add_argument(
        "--pymc-python", metavar="PATH", help="python of a venv with pymc-marketing installed"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    args = parser.parse_args()
    results = []
    print("| customers | distinct rows | ours BG/NBD s | ours GG s | lifetimes BG/NBD s | lifetimes GG s "
          "| speed-up (both fits) | max rel. diff BG/NBD | max rel. diff GG |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    inputs = [(f, None) for f in args.orders] if args.orders else [(None, n) for n in args.customers]
    for path, count in inputs:
        data = from_orders(path) if path else simulate(count or 0, args.seed)
        n = len(data["x"])
        ours = time_ours(data)
        row: dict[str, object] = {"customers": n, "source": path or "simulated", "ours": ours}
        cells = [f"{n:,}", f"{ours['distinct_rows']:,}", f"{ours['bgnbd_seconds']:.2f}",
                 f"{ours['gamma_gamma_seconds']:.2f}"]  # fmt: skip
        if args.lifetimes_python:
            theirs = time_peer(data, args.lifetimes_python)
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
        if args.pymc_python:
            pymc = time_peer(data, args.pymc_python, PYMC_SCRIPT)
            row["pymc_marketing"] = pymc
            pymc_total = float(pymc["bgnbd_seconds"]) + float(pymc["gamma_gamma_seconds"])  # type: ignore[arg-type]
            ours_total = float(ours["bgnbd_seconds"]) + float(ours["gamma_gamma_seconds"])  # type: ignore[arg-type]
            print(
                f"  PyMC-Marketing MAP: BG/NBD {pymc['bgnbd_seconds']:.2f} s, GG {pymc['gamma_gamma_seconds']:.2f} s "
                f"({pymc_total / ours_total:.1f}x ours); max rel. diff BG/NBD "
                f"{max_relative_difference(ours['bgnbd'], pymc['bgnbd']):.1e}, "  # type: ignore[arg-type]
                f"GG {max_relative_difference(ours['gamma_gamma'], pymc['gamma_gamma']):.1e}",
                flush=True,
            )  # type: ignore[arg-type]
        results.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.orders:
        print(
            f"\ntrue parameters: BG/NBD {TRUE_BGNBD} (weeks), Gamma-Gamma {TRUE_GAMMA_GAMMA}; seed {args.seed}"
        )
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
