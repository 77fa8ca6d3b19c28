"""Benchmark ``crm-winback score`` against the peers on the same files, in the same run.

    python bench/bench_score.py --peers-python /tmp/peers/bin/python [--sizes 100000 1000000 10000000]

The peers run in their own virtual environment (``pip install pymc-marketing lifetimes``), never in the
project's. Each command runs as its own process, in rounds that run every command once; the table reports the
median wall time and CPU-seconds (user + system, the process and its children) of --repeat (--repeat-large)
rounds, the ratio peer / ours, and each process's peak resident memory (the JSON file also keeps every run's
times). ``--predict`` adds ``crm-winback score --predict`` (the backtest and the model columns). The peers'
versions are printed with the table. Files come from bench/generate.py (seeded).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU-seconds and peak RSS (MiB) of one run of ``cmd``, from a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "wall = time.perf_counter() - t\n"
        "if r.returncode: sys.exit(r.stderr.decode()[-2000:])\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(wall, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    wall, cpu, rss = proc.stdout.split()
    return float(wall), float(cpu), float(rss)


def peer_versions(python: str) -> str:
    """The peers' installed versions, as printed beside the table."""
    code = (
        "from importlib.metadata import version\n"
        "print(', '.join(f'{p} {version(p)}' for p in ('pymc-marketing', 'lifetimes', 'pandas')))"
    )
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def label(lines: int) -> str:
    return f"{lines // 1_000_000}m" if lines >= 1_000_000 else f"{lines // 1000}k"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--peers-python", help="python of a venv with pymc-marketing and lifetimes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command under 5M lines")
    parser.add_argument(
        "--repeat-large", type=int, default=1, help="runs per command from 5M lines (the peers take minutes)"
    )
    parser.add_argument("--json", type=Path, default=OUT / "bench_score.json")
    parser.add_argument("--predict", action="store_true", help="also time crm-winback score --predict")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    ours = ROOT / ".venv" / "bin" / "crm-winback"
    results = []
    for lines in args.sizes:
        path = OUT / f"orders_{label(lines)}.csv"
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            subprocess.run([sys.executable, str(HERE / "generate.py"), str(lines), str(path)], check=True)
        commands = {
            "crm-winback score": [
                str(ours),
                "score",
                str(path),
                "-o",
                str(OUT / "scores.csv"),
                "--format",
                "json",
            ],
            "duckdb count(*)": [sys.executable, str(HERE / "peers" / "duckdb_count.py"), str(path)],
        }
        if args.predict:
            predict_out = str(OUT / "scores_predict.csv")
            commands["crm-winback score --predict"] = [
                str(ours), "score", str(path), "--predict", "-o", predict_out, "--format", "json"
            ]  # fmt: skip
        if args.peers_python:
            commands["pymc-marketing rfm_segments"] = [
                args.peers_python,
                str(HERE / "peers" / "pymc_rfm.py"),
                str(path),
            ]
            commands["lifetimes summary_data"] = [
                args.peers_python,
                str(HERE / "peers" / "lifetimes_summary.py"),
                str(path),
            ]
        repeat = args.repeat if lines < 5_000_000 else args.repeat_large
        # Rounds, each running every command once: a slow spell of the machine then falls on all of them
        # alike, not on whichever command's runs happened to be in progress.
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        for round_no in range(1, repeat + 1):
            for name, cmd in commands.items():
                runs[name].append(measure(cmd))
                wall, cpu, rss = runs[name][-1]
                print(
                    f"{label(lines):>4} round {round_no} {name:<28} {wall:7.2f} s {cpu:7.2f} CPU-s "
                    f"{rss:7.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
        row: dict[str, object] = {"lines": lines}
        for name, measured in runs.items():
            row[name] = {
                "seconds": statistics.median(r[0] for r in measured),
                "cpu_seconds": statistics.median(r[1] for r in measured),
                "peak_mib": max(r[2] for r in measured),
                "runs": [round(r[0], 2) for r in measured],
                "cpu_runs": [round(r[1], 2) for r in measured],
            }
        results.append(row)
    ours_name = "crm-winback score"
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d')}"
    )
    if args.peers_python:
        print(f"Peers: {peer_versions(args.peers_python)}")
    print()
    names = [n for n in results[0] if n != "lines"]
    print(
        "| lines | "
        + " | ".join(f"{n} (s, CPU-s / MiB)" for n in names)
        + " | "
        + " | ".join(f"{n} / ours" for n in names if n != ours_name)
        + " |"
    )
    print("|---" * (1 + 2 * len(names) - 1) + "|")
    for row in results:
        cells = [f"{row['lines']:,}"]
        cells += [
            f"{row[n]['seconds']:.2f}, {row[n]['cpu_seconds']:.2f} / {row[n]['peak_mib']:.0f}"  # type: ignore[index]
            for n in names
        ]
        base = row[ours_name]["seconds"]  # type: ignore[index]
        cpu_base = row[ours_name]["cpu_seconds"]  # type: ignore[index]
        cells += [
            f"{row[n]['seconds'] / base:.1f}x (CPU {row[n]['cpu_seconds'] / cpu_base:.1f}x)"  # type: ignore[index]
            for n in names
            if n != ours_name
        ]
        print("| " + " | ".join(cells) + " |")
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
