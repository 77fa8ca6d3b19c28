"""The visual report as a user sees it: rendered for CDNOW and a two-snapshot store, opened in headless Chromium.

Chromium (Debian package ``chromium``) is driven through its command line: ``--dump-dom`` after a probe script
(added to a copy of the report, never to the report itself) has measured every chart, ``--screenshot`` for the
pixels, and ``--enable-logging=stderr`` for the console, where Chromium writes every console message and
uncaught error as an ``INFO:CONSOLE`` line. Without Chromium the browser tests skip, unless ``CI`` is set:
then they fail, as .ci/run installs it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crm_winback.api import ScoreResult, StoreOptions, score_file
from crm_winback.cli import main
from crm_winback.cohorts import build_cohorts, retention_by_month
from crm_winback.ingest import load_orders
from crm_winback.models.backtest import BacktestReport
from crm_winback.predict.backtest import history_of
from crm_winback.predict.candidates import CANDIDATES, History
from crm_winback.predict.summary import purchase_days, summarize
from crm_winback.predict.tracking import tracking
from crm_winback.scoring import ScoreOptions
from crm_winback.visual import build_report
from crm_winback.visual.svg import blend, nice_max, ticks

from .mcp_support import ORDERS, call, ok, server_in, workspace
from .paths import CDNOW, DATA

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
)  # fmt: skip
WINDOW = (1280, 900)
# Measures every chart after layout and writes the result into the page, where --dump-dom reads it.
PROBE = """<script>(function () {
  var out = [];
  document.querySelectorAll('svg.chart').forEach(function (s) {
    var r = s.getBoundingClientRect();
    out.push({id: s.id, width: r.width, height: r.height, attr_width: +s.getAttribute('width'),
              attr_height: +s.getAttribute('height'),
              shapes: s.querySelectorAll('rect, line, polyline, circle').length,
              title: (s.querySelector('title') || {}).textContent || '',
              desc: (s.querySelector('desc') || {}).textContent || ''});
  });
  var p = document.createElement('pre'); p.id = 'probe'; p.textContent = JSON.stringify(out);
  document.body.appendChild(p);
})();</script>"""
CDNOW_CHARTS = [
    "rf-grid",
    "segments",
    "funnel",
    "stages",
    "cohorts",
    "tracking",
    "deciles",
    "bands",
    "winback",
]


# --- Chromium -----------------------------------------------------------------------------------------------


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("CI is set but Chromium is not installed: apt-get install -y chromium (as .ci/run does)")
    pytest.skip("Chromium is not installed (apt-get install -y chromium); with CI set this fails instead")


def run_chromium(page: Path, work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"  # a fresh profile for every run
    width, height = WINDOW
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
         "--enable-logging=stderr", "--v=0", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False, cwd=work,
    )  # fmt: skip


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def measured(report: Path, work: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every chart's drawn size and shape count, and the console messages, from a probed copy of ``report``."""
    probed = work / f"probed-{report.name}"
    html = report.read_text(encoding="utf-8")
    probed.write_text(html.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    done = run_chromium(probed, work, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, "the probe did not run: " + done.stdout[-500:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")), console_messages(
        done.stderr
    )


def screenshot(page: Path, work: Path) -> tuple[int, int, np.ndarray]:
    png = work / f"{page.stem}.png"
    done = run_chromium(page, work, f"--screenshot={png}")
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]
    return read_png(png)


def read_png(path: Path) -> tuple[int, int, np.ndarray]:
    """Width, height and RGB pixels (h x w x 3) of an 8-bit RGB or RGBA PNG without interlacing."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = ctype = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        elif kind == b"IDAT":
            idat += body
    bpp = 3 if ctype == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 1:  # Sub: a running sum per channel
            line = np.cumsum(line.reshape(width, bpp), axis=0).reshape(stride) & 255
        elif kind == 2:  # Up
            line = (line + prev) & 255
        elif kind in (3, 4):  # Average, Paeth: each byte needs the one decoded before it
            row = line.tolist()
            up = prev.tolist()
            for x in range(stride):
                a = row[x - bpp] if x >= bpp else 0
                b = up[x]
                if kind == 3:
                    row[x] = (row[x] + (a + b) // 2) & 255
                else:
                    c = up[x - bpp] if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            line = np.array(row, dtype=np.int32)
        out[y] = line
        prev = line
    return width, height, out.reshape(height, width, bpp)[:, :, :3]


# --- the reports ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ScoreResult]:
    out = tmp_path_factory.mktemp("report") / "cdnow.html"
    result = build_report(CDNOW, out)
    assert result.charts == CDNOW_CHARTS
    scored, _ = score_file(CDNOW, score_options=ScoreOptions(predict=True))
    return out, scored


@pytest.fixture(scope="module")
def store_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CDNOW saved twice (as of 1997-12-31 and 1998-06-30) in one store, then reported with it."""
    work = tmp_path_factory.mktemp("store")
    db = str(work / "store.duckdb")
    for as_of in ("1997-12-31", None):
        assert main(["score", str(CDNOW), "--db", db, "--save", "-o", str(work / "s.csv")]
                    + (["--as-of", as_of] if as_of else [])) == 0  # fmt: skip
    out = work / "two.html"
    result = build_report(CDNOW, out, store=StoreOptions(db=db))
    assert result.charts == [*CDNOW_CHARTS, "migration", "trend"]
    return out


class Tables(HTMLParser):
    """Every table's cell texts, keyed by the id of the table or of the nearest enclosing element with one."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str | None] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.current: list[list[str]] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "br", "rect", "line", "polyline", "circle"):
            return
        self.ids.append(dict(attrs).get("id"))
        if tag == "table":
            key = next(i for i in reversed(self.ids) if i)
            self.current = self.tables.setdefault(key, [])
        elif tag == "tr" and self.current is not None:
            self.current.append([])
        elif tag in ("td", "th") and self.current is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("meta", "br", "rect", "line", "polyline", "circle"):
            return
        self.ids.pop()
        if tag in ("td", "th") and self.current is not None and self.cell is not None:
            self.current[-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables_of(report: Path) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(report.read_text(encoding="utf-8"))
    return parser.tables


def number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


# --- in the browser ------------------------------------------------------------------------------------------


def test_console_and_screenshot_checks_catch_a_broken_and_a_blank_page(tmp_path: Path) -> None:
    """The checks below can fail: a page with a script error is seen, a blank page is blank."""
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><p>x</p><script>console.error('x'); notDefined();</script></body></html>")
    messages = console_messages(run_chromium(broken, tmp_path, "--dump-dom").stderr)
    assert any("notDefined is not defined" in m for m in messages), messages
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    _, _, pixels = screenshot(blank, tmp_path)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) == 1


@pytest.mark.parametrize("which", ["cdnow", "two snapshots"])
def test_every_chart_draws_at_its_size_without_console_errors(
    which: str, cdnow_report: tuple[Path, ScoreResult], store_report: Path, tmp_path: Path
) -> None:
    report = cdnow_report[0] if which == "cdnow" else store_report
    charts, messages = measured(report, tmp_path)
    assert messages == [], messages
    expected = CDNOW_CHARTS + (["migration", "trend"] if which != "cdnow" else [])
    assert [c["id"] for c in charts] == [f"{name}-svg" for name in expected]
    for c in charts:
        # drawn at the size it was made for (the window is wide enough for every chart)
        assert (round(c["width"]), round(c["height"])) == (c["attr_width"], c["attr_height"]), c
        assert c["width"] >= 300 and c["height"] >= 100, c
        assert c["shapes"] >= 10, c  # bars, cells, lines: not an empty frame
        assert c["title"] and len(c["desc"]) > 60, c  # a text alternative that says what the chart shows


def test_screenshot_shows_the_report_not_a_blank_page(
    cdnow_report: tuple[Path, ScoreResult], tmp_path: Path
) -> None:
    width, height, pixels = screenshot(cdnow_report[0], tmp_path)
    assert (width, height) == WINDOW
    flat = pixels.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    assert len(colours) > 50, len(colours)  # text, cards, table rules, the first chart
    background_share = counts.max() / len(flat)
    assert background_share < 0.9, background_share


# --- the page itself -----------------------------------------------------------------------------------------


def test_report_is_one_self_contained_file_with_no_script_or_outside_resource(
    cdnow_report: tuple[Path, ScoreResult],
) -> None:
    html = cdnow_report[0].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert str(CDNOW.parent) not in html  # the file's name only: the page is e-mailed
    assert not re.search(r"""(src|href)\s*=|url\(|@import|https?://(?!www\.w3\.org/2000/svg)""", html), (
        re.search(r"""(src|href)\s*=|url\(|@import|https?://(?!www\.w3\.org/2000/svg)""", html)
    )
    assert len(html) < 300_000


def test_report_tables_match_the_scorecard(cdnow_report: tuple[Path, ScoreResult]) -> None:
    report, scored = cdnow_report
    tables = tables_of(report)
    card = scored.scoring.scorecard
    rows = {r[0]: r for r in tables["scorecard"][1:]}
    for row in [*card.by_segment, card.total]:
        shown = rows[row.group]
        assert number(shown[1]) == row.customers
        assert number(shown[3]) == row.revenue
        assert shown[8] == f"{row.churn_risk_low:,} / {row.churn_risk_medium:,} / {row.churn_risk_high:,}"
    sizes = {r[0]: r for r in tables["segments"][1:]}
    assert {g: number(r[1]) for g, r in sizes.items()} == {r.group: r.customers for r in card.by_segment}
    grid = tables["rf-grid"][1:]
    assert sum(number(r[1]) for r in grid) == card.total.customers == 23_570  # CDNOW: 23,570 customers
    assert round(sum(number(r[2]) for r in grid), 2) == card.total.revenue
    stages = {r[0]: number(r[1]) for r in tables["stages"][1:]}
    assert stages == {r.group: r.customers for r in card.by_lifecycle}
    funnel = tables["funnel"][1:]
    assert number(funnel[0][1]) == card.total.customers
    # one-time buyers stop at the first order: the quality report's one-time share of the customers
    assert number(funnel[0][3]) == round(scored.quality.one_time_buyer_share * card.total.customers)
    cohorts = tables["cohorts"][1:]
    # CDNOW's customers all first bought in 1997-01..03 (Fader & Hardie's cohort of 23,570)
    assert [r[0] for r in cohorts] == ["1997-01", "1997-02", "1997-03"]
    assert sum(number(r[1]) for r in cohorts) == 23_570
    bt = scored.scoring.predictions.backtest if scored.scoring.predictions else None
    assert bt is not None and bt.status == "done"
    chosen = bt.check(bt.chosen)
    assert chosen is not None
    bands = tables["bands"][1:]
    assert [number(r[2]) for r in bands] == [b.customers for b in chosen.bands]
    exclusions = tables["exclusions"][1:]
    assert [(r[0], number(r[2])) for r in exclusions] == [
        (e.reason, e.rows) for e in scored.quality.exclusions
    ]


def test_migration_table_matches_the_store(store_report: Path) -> None:
    tables = tables_of(store_report)
    matrix = tables["migration"]
    header, body = matrix[0], matrix[1:]
    counts = {(r[0], header[j]): number(v) for r in body for j, v in enumerate(r) if j}
    # every customer of the later snapshot came from a segment or is new: 23,570 in all (CDNOW)
    assert sum(v for (f, t), v in counts.items() if t != "(gone)") == 23_570
    trend = {r[0]: r for r in tables["trend"][1:]}
    assert sum(number(r[2]) for r in trend.values()) == 23_570  # the latest snapshot's column
    for segment, r in trend.items():
        into = sum(v for (f, t), v in counts.items() if t == segment)
        assert number(r[2]) == into, segment  # the matrix's column sum is the later snapshot's count
        assert number(r[3]) == number(r[2]) - number(r[1])


def test_segment_names_from_the_users_map_are_escaped(tmp_path: Path) -> None:
    from crm_winback.visual.svg import bars

    svg = bars("x", "t <b>", "d & e", ["<script>alert(1)</script>"], [("s", [1.0], "#000000")], str)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "d &amp; e" in svg


# --- the numbers behind the charts ----------------------------------------------------------------------------


def test_axis_ticks_are_round_numbers() -> None:
    assert nice_max(0.51) == 1.0 and nice_max(44_021) == 50_000 and nice_max(12) == 20
    # a span of 833 in about 6 steps: 138.8 rounds up to a step of 200
    assert ticks(-379, 454, 6) == [-200.0, 0.0, 200.0, 400.0]
    assert ticks(1, 78, 6) == [20.0, 40.0, 60.0]
    assert blend(0.0) == "#f7fbff" and blend(1.0) == "#08306b" and blend(0.5) == "#6baed6"
    # counts of 2 and 1 customers: the axis reads 0, 1, 2, 3, 4, not 0, 0, 1, 2, 2
    from crm_winback.visual.svg import bars

    svg = bars(
        "c",
        "t",
        "d",
        ["new", "VIP"],
        [("customers", [2.0, 1.0], "#000000")],
        lambda v: f"{v:,.0f}",
        whole=True,
    )
    marks = re.findall(r'fill="#616e7c">([0-9.]+)</text>', svg)
    assert marks == ["0", "1", "2", "3", "4"], marks


def test_monthly_retention_agrees_with_the_cohort_table() -> None:
    ingested = load_orders(CDNOW)
    try:
        table = build_cohorts(ingested.con, ingested.as_of)  # from the orders
        months = retention_by_month(ingested.con, ingested.as_of, purchase_days(ingested.con))
    finally:
        ingested.close()
    assert [(c, n) for c, n, _ in months] == [(r.cohort, r.customers) for r in table.rows]
    for (_, _, shares), row in zip(months, table.rows, strict=True):
        assert [shares[k - 1] for k in (1, 2, 3, 6, 12)] == [row.m1, row.m2, row.m3, row.m6, row.m12]
    # the heat map's first cell: 1,157 of the 7,846 customers first seen in January 1997 ordered in February
    # (counted in CDNOW_master.txt with awk, apart from this code)
    assert months[0][1] == 7_846 and months[0][2][0] == round(1_157 / 7_846, 4)


@pytest.fixture(scope="module")
def cdnow_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW 1/10 sample (2,357 customers) as an orders CSV."""
    path = tmp_path_factory.mktemp("sample") / "cdnow_sample.csv"
    lines = ["customer_id,date,cds,amount"]
    for row in (DATA / "cdnow" / "CDNOW_sample.txt").read_text().split("\n"):
        if row.strip():
            _, sample_id, date, cds, dollars = row.split()
            lines.append(f"{int(sample_id):04d},{date},{cds},{dollars}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("model", "low", "high"), [("BG/NBD", -5.0, -3.0), ("Pareto/NBD", -3.0, -1.0)])
def test_tracking_plot_reproduces_the_published_cdnow_week_78(
    cdnow_sample: Path, model: str, low: float, high: float
) -> None:
    """Fader, Hardie & Lee 2005 on the CDNOW sample, calibration to 1997-09-30 (39 weeks): cumulative repeat
    purchases at week 78 are 4,339; BG/NBD predicts about 4% fewer, Pareto/NBD about 2% (REFERENCE.md 6)."""
    ingested = load_orders(cdnow_sample)
    report = BacktestReport(
        status="done", rule="test", history_start="1997-01-01", history_end="1998-06-30",
        calibration_end="1997-09-30", chosen=model,
    )  # fmt: skip
    try:
        t = tracking(ingested.con, dt.date(1998, 6, 30), report)
    finally:
        ingested.close()
    # 272 days from the first order day to the calibration end: the split is drawn at 38.86 weeks
    assert t.model == model and t.start == dt.date(1997, 1, 1) and t.calibration_weeks == 38.86
    assert t.weeks[-1] == 78 and t.actual[-1] == 4_339
    error = 100 * (t.predicted[-1] - t.actual[-1]) / t.actual[-1]
    assert low < error < high, error
    assert t.actual == sorted(t.actual) and t.predicted == sorted(t.predicted)  # cumulative
    assert sum(n for _, n, _, _ in t.deciles) == 2_357
    assert [p for _, _, p, _ in t.deciles] == sorted((p for _, _, p, _ in t.deciles), reverse=True)


def test_tracking_reuses_the_backtests_calibration_summary_with_the_same_numbers(cdnow_sample: Path) -> None:
    """The report passes the backtest's own calibration summary and holdout counts (run_backtest(keep=True))
    instead of summarizing the calibration period again: the plot and deciles are the same, and no summary
    table is left behind."""
    from crm_winback.predict.backtest import BACKTEST_TABLE, run_backtest
    from crm_winback.predict.tracking import TRACKING_TABLE

    ingested = load_orders(cdnow_sample)
    try:
        kept = run_backtest(ingested.con, ingested.as_of, dt.date(1997, 9, 30), keep=True)
        assert kept.calibration is not None and kept.holdout is not None
        again = tracking(ingested.con, ingested.as_of, kept.report)
        reused = tracking(
            ingested.con, ingested.as_of, kept.report, kept.fits, kept.calibration, kept.holdout
        )
        tables = {r[0] for r in ingested.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        ingested.close()
    assert reused == again
    assert not {BACKTEST_TABLE, TRACKING_TABLE} & tables


def test_a_sampled_backtests_tracking_plot_draws_its_sample_and_says_so(
    cdnow_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A huge shop's backtest runs on a seeded sample (backtest.SAMPLE, lowered here below the 2,357 customers):
    the tracking plot and deciles draw the same customers - the ones whose AUCs the report gives - from the
    backtest's kept summary, count their actual repeat purchase days, and say it is a sample."""
    from crm_winback.predict import backtest as bt
    from crm_winback.visual.charts import decile_chart, tracking_chart

    monkeypatch.setattr(bt, "SAMPLE", 1_000)
    ingested = load_orders(cdnow_sample)
    try:
        kept = bt.run_backtest(ingested.con, ingested.as_of, dt.date(1997, 9, 30), keep=True)
        sample = {r[0] for r in ingested.con.execute(f"SELECT customer_id FROM {bt.SAMPLE_TABLE}").fetchall()}
        t = tracking(ingested.con, ingested.as_of, kept.report, kept.fits, kept.calibration, kept.holdout)
        tables = {r[0] for r in ingested.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        ingested.close()
    assert kept.report.customers == t.customers == len(sample) == 1_000
    assert kept.report.sampled_from == t.sampled_from == 2_357
    assert bt.SAMPLE_TABLE not in tables
    # the actual line: the sampled customers' purchase days after their first, counted from the file itself
    days: dict[str, set[str]] = {}
    for line in cdnow_sample.read_text().splitlines()[1:]:
        customer, date = line.split(",")[:2]
        days.setdefault(customer, set()).add(date)
    assert t.actual[-1] == sum(len(days[c]) - 1 for c in sample)
    assert sum(n for _, n, _, _ in t.deciles) == 1_000
    said = "the backtest's random sample of 1,000 of the 2,357 customers first seen by 1997-09-30"
    assert said in tracking_chart(t).desc and said in decile_chart(t).desc
    assert any(said in note for note in tracking_chart(t).notes)
    assert any(said in note for note in decile_chart(t).notes)


def test_every_candidate_gives_the_same_expectation_for_all_ages_at_once(cdnow_sample: Path) -> None:
    """tracking() asks each model for E[X(t)] at every age in one call; one call per age gives the same."""
    ingested = load_orders(cdnow_sample)
    try:
        h = history_of(summarize(ingested.con, dt.date(1997, 9, 30), "weeks"))
    finally:
        ingested.close()
    ages = np.array([0.0, 1.0, 10.5, 39.0, 78.0])
    zeros = np.zeros(len(ages))
    fresh = History(x=zeros, t_x=zeros, T=zeros, time_unit="weeks", litt=zeros)
    for candidate in CANDIDATES:
        fitted = candidate.fit(h)
        together = fitted.expected_orders(ages, fresh)  # type: ignore[arg-type]
        one = History(x=np.zeros(1), t_x=np.zeros(1), T=np.zeros(1), time_unit="weeks", litt=np.zeros(1))
        apart = [float(fitted.expected_orders(float(a), one)[0]) for a in ages]
        np.testing.assert_allclose(together, apart, rtol=1e-12, err_msg=candidate.name)
        assert together[0] == 0.0 and np.all(np.diff(together) > 0), candidate.name


# --- the doors -----------------------------------------------------------------------------------------------


def test_cli_writes_the_report_and_refuses_another_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(ORDERS), "-o", str(out), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    scored, _ = score_file(ORDERS)
    assert result["report_file"] == str(out) and out.exists()
    assert result["customers"] == scored.scoring.customers
    assert any("no customer store" in s for s in result["skipped"])
    assert main(["report", str(ORDERS), "-o", str(tmp_path / "r.pdf")]) == 2
    err = capsys.readouterr().err
    assert "r.pdf" in err and ".html" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.pdf").exists()


def test_mcp_tool_returns_the_report_path_in_the_output_folder(tmp_path: Path) -> None:
    work = workspace(tmp_path)
    result = ok(call(server_in(work), "build_report", {"file": "orders.csv", "output_name": "shop.html"}))
    path = Path(result["report_file"])
    assert path.name == "shop.html" and path.parent.name == "crm-winback-out" and path.exists()
    assert result["brief_link"].startswith("Visual report: [shop.html](shop.html)")
    assert "<svg" in path.read_text(encoding="utf-8")


def test_brief_links_the_report_relative_to_its_folder_and_still_passes_its_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()
    report = tmp_path / "out" / "shop report.html"
    assert main(["report", str(ORDERS), "-o", str(report)]) == 0
    brief = tmp_path / "brief.md"
    assert main(["brief", "--orders", str(ORDERS), "--report", str(report), "-o", str(brief)]) == 0
    lines = brief.read_text(encoding="utf-8").split("\n")
    title = next(i for i, line in enumerate(lines) if line.startswith("# "))
    assert lines[title + 2].startswith("Visual report: [shop report.html](<out/shop report.html>)")
    assert main(["check", str(brief)]) == 0
    capsys.readouterr()
    assert main(["brief", "--orders", str(ORDERS), "--report", str(tmp_path / "none.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert "none.html" in err and "crm-winback report" in err and len(err.splitlines()) == 1
