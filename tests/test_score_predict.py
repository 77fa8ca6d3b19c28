"""``score --predict``: churn risk as the backtest chose it, the heuristic when there is too little history.

CDNOW (the bundled examples/cdnow/CDNOW_master.txt, as of its last order 1998-06-30) is scored once per module.
The fitted parameters are the model's on the full 78-week history (the calibration-period fit that reproduces the
published numbers is in test_predict_cli.py). The backtest splits at 1997-12-30 (the last third, 182 days, held
out); no model beats recency alone there (BG/NBD and the naive rate trail it), so churn risk is banded by days
since the last order at the backtest's terciles, 245 and 315 days (crm_winback.predict.backtest).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from crm_winback.api import ScoreResult, score_file
from crm_winback.brief.assumptions import resolve
from crm_winback.brief.context import load_context
from crm_winback.brief.library import load_library
from crm_winback.brief.plan import trigger_rows
from crm_winback.brief.timings import build_timings
from crm_winback.cli import main
from crm_winback.ingest import IngestOptions
from crm_winback.lifecycle import PAliveBands
from crm_winback.predict import mbgnbd
from crm_winback.predict.mbgnbd import MbgNbdParams
from crm_winback.scoring import ScoreOptions
from crm_winback.scoring.predicted import MODEL_COLUMNS

from .paths import CDNOW, DATA, TODAY


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScoreResult, Path]:
    out = tmp_path_factory.mktemp("predict") / "cdnow-scores.csv"
    result, _ = score_file(CDNOW, score_options=ScoreOptions(predict=True), output=out)
    return result, out


def _risk(rows: list) -> dict[str, tuple[int, int, int]]:
    return {r.group: (r.churn_risk_low, r.churn_risk_medium, r.churn_risk_high) for r in rows}


def test_cdnow_churn_risk_follows_the_backtest_choice(cdnow: tuple[ScoreResult, Path]) -> None:
    s = cdnow[0].scoring
    assert s.churn_risk_source.startswith("ranked by recency alone (AUC 0.795 on the backtest)")
    # the bands' edges are where the no-order share on the backtest reached 0.5 and 0.8 (tests/test_backtest.py)
    assert (
        "high (last order 269 days ago or more): 9 in 10 of these did not order again" in s.churn_risk_source
    )
    assert s.predictions is not None and s.predictions.churn_risk_method == "backtest"
    # the per-customer numbers come from the backtest's forecaster: MBG/NBD erred least per customer on the
    # holdout (MAE 0.5319 purchase days; BG/NBD 0.5448, Pareto/NBD 0.5367; MBG/CNBD-k ties it at k = 1 and the
    # earlier candidate wins the tie); its whole-history parameters and Gamma-Gamma's are reported
    bt = s.predictions.backtest
    assert bt is not None and bt.forecaster == "MBG/NBD" == s.predictions.forecast_model
    assert [(c.name, c.mae) for c in bt.checks if c.kind == "model"] == [
        ("BG/NBD", 0.5448), ("Pareto/NBD", 0.5367), ("MBG/NBD", 0.5319), ("MBG/CNBD-k", 0.5319),
    ]  # fmt: skip
    assert s.predictions.parameters == {
        "r": 0.689419, "alpha": 9.88938, "a": 0.4916, "b": 0.858515, "p": 5.08604, "q": 3.99512, "v": 21.2522,
    }  # fmt: skip
    # the heuristic gives 3,021 / 1,859 / 18,690 on the same customers (test below)
    assert _risk([s.scorecard.total]) == {"All customers": (3090, 3913, 16567)}
    assert _risk(s.scorecard.by_lifecycle) == {
        "churned": (0, 2358, 16567),
        "lapsed": (311, 1555, 0),
        "at-risk": (1072, 0, 0),
        "VIP": (773, 0, 0),
        "active": (934, 0, 0),
    }
    assert _risk(s.scorecard.by_segment)["Can't Lose Them"] == (0, 137, 17)


def test_cdnow_model_outlook_per_segment(cdnow: tuple[ScoreResult, Path]) -> None:
    model = cdnow[0].scoring.predictions
    assert model is not None and model.overall is not None
    o = model.overall
    # MBG/NBD (the forecaster) lets one-time buyers lapse too: every date is the customer's own, none shop level
    # (BG/NBD gave 0.5435 mean P(alive), CLV 779,036.72, 51% shop level and quartiles 262 / 520 / 520 days)
    assert (o.customers, o.mean_p_alive, o.clv_total, o.shop_level_share) == (23570, 0.4137, 756506.55, 0.0)
    # winback dates past the 545 days of history are not given (issue 14), so the quartiles are of the rest
    assert (o.winback_days_p25, o.winback_days_median, o.winback_days_p75) == (87, 87, 221)
    assert "450 customers get no winback date: MBG/NBD puts it beyond the 545 days" in model.notes[-1]
    champions = next(g for g in model.by_segment if g.group == "Champions")
    assert (champions.winback_days_p25, champions.winback_days_median, champions.winback_days_p75) == (
        109,
        136,
        162,
    )
    assert champions.clv_mean == 442.02
    lapsed = next(g for g in model.by_lifecycle if g.group == "lapsed")
    assert (lapsed.winback_days_p25, lapsed.winback_days_median, lapsed.winback_days_p75) == (229, 309, 405)


def test_scores_file_gains_the_model_columns_and_risk_follows_the_bands(
    cdnow: tuple[ScoreResult, Path],
) -> None:
    with cdnow[1].open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ())[-len(MODEL_COLUMNS) :] == MODEL_COLUMNS
        rows = list(reader)
    assert len(rows) == 23570
    for row in rows:  # recency alone won: bands where its measured no-order share reached 0.5 and 0.8
        days = int(row["recency_days"])
        assert row["churn_risk"] == ("low" if days < 81 else "medium" if days < 269 else "high"), row
        assert row["p_no_order"] == ""
    first = rows[0]
    assert {k: first[k] for k in MODEL_COLUMNS} == {
        "p_alive": "0.2794", "expected_orders": "0.1046", "clv": "3.54", "winback_date": "1997-03-29",
        "winback_basis": "customer", "p_no_order": "",
    }  # fmt: skip
    # they are MBG/NBD's own numbers for the customer (one order on 1997-01-01, 78 weeks before the as-of date)
    model = cdnow[0].scoring.predictions
    assert model is not None
    params = MbgNbdParams(**{k: model.parameters[k] for k in ("r", "alpha", "a", "b")}, time_unit="weeks")
    assert first["first_order_date"] == first["last_order_date"] == "1997-01-01"
    T = (dt.date(1998, 6, 30) - dt.date(1997, 1, 1)).days / 7
    assert float(first["p_alive"]) == pytest.approx(mbgnbd.probability_alive(params, 0, 0, T)[0], abs=1e-4)
    expected = mbgnbd.conditional_expected_purchases(params, 365 / 7, 0, 0, T)[0]
    assert float(first["expected_orders"]) == pytest.approx(expected, abs=1e-4)


def test_without_predict_the_heuristic_and_the_plain_columns_stay(
    cdnow: tuple[ScoreResult, Path], tmp_path: Path
) -> None:
    out = tmp_path / "plain.csv"
    result, _ = score_file(CDNOW, output=out)
    assert result.scoring.predictions is None
    assert result.scoring.churn_risk_source.startswith("heuristic")
    assert _risk([result.scoring.scorecard.total]) == {"All customers": (3021, 1859, 18690)}
    plain = out.read_text(encoding="utf-8").splitlines()
    with_model = cdnow[1].read_text(encoding="utf-8").splitlines()
    assert plain[0] + "," + ",".join(MODEL_COLUMNS) == with_model[0]
    # everything but churn risk is the same per customer
    risk = plain[0].split(",").index("churn_risk")
    for a, b in zip(plain[1:101], with_model[1:101], strict=True):
        left, right = a.split(","), b.split(",")[: -len(MODEL_COLUMNS)]
        assert left[:risk] + left[risk + 1 :] == right[:risk] + right[risk + 1 :]


def test_same_input_gives_byte_identical_scores_with_predict(
    cdnow: tuple[ScoreResult, Path], tmp_path: Path
) -> None:
    again = tmp_path / "again.csv"
    result, _ = score_file(CDNOW, score_options=ScoreOptions(predict=True), output=again)
    assert again.read_bytes() == cdnow[1].read_bytes()
    assert result.scoring.model_dump_json() == cdnow[0].scoring.model_dump_json()


def test_too_few_repeat_buyers_fall_back_to_the_heuristic(tmp_path: Path) -> None:
    out = tmp_path / "small.csv"
    options = IngestOptions(today=TODAY)
    result, _ = score_file(DATA / "small_orders.csv", options, ScoreOptions(predict=True), out)
    plain, _ = score_file(DATA / "small_orders.csv", options, ScoreOptions())
    s = result.scoring
    assert s.predictions is not None and s.predictions.churn_risk_method == "heuristic"
    assert s.predictions.backtest is not None and s.predictions.backtest.status == "too little history"
    assert s.predictions.fallback_reason == (
        "only 3 of 5 customers bought more than once; the BG/NBD model needs at least 30 repeat buyers: use a "
        "longer order history"
    )
    assert s.churn_risk_source == (
        f"{plain.scoring.churn_risk_source} - fallback: {s.predictions.backtest.reason}; "
        f"BG/NBD: {s.predictions.fallback_reason}"
    )
    assert s.scorecard == plain.scoring.scorecard
    assert _risk(s.scorecard.by_lifecycle) == {"at-risk": (2, 0, 0), "new": (1, 0, 0), "active": (2, 0, 0)}
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["churn_risk"] for r in rows] == ["low", "low", "low", "low", "low"]
    assert all(r[c] == "" for r in rows for c in MODEL_COLUMNS)


def test_cli_score_predict_states_the_fallback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.csv"
    code = main(["score", str(DATA / "small_orders.csv"), "--predict", "-o", str(out), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["scoring"]["predictions"]["churn_risk_method"] == "heuristic"
    assert (
        "too few customers for a backtest: 2 had ordered by 2023-12-12"
        in data["scoring"]["churn_risk_source"]
    )
    assert "BG/NBD: only 3 of 5 customers" in data["scoring"]["churn_risk_source"]


def test_winback_triggers_keep_the_cycle_when_the_model_dates_fall_outside_their_stages(
    cdnow: tuple[ScoreResult, Path],
) -> None:
    lib, data = load_library(), cdnow[0]
    context = load_context(DATA / "brief" / "coffee_subscription.yaml")
    resolved = resolve(context, lib, data)
    timings = build_timings(lib, resolved, data.scoring.predictions)
    days = {t.name: t.day for t in trigger_rows(lib, resolved, timings)}
    # the forecaster's (MBG/NBD) lapsed median (309) lies past the lapsed window (68-136) and its churned date
    # (134) before the churned window (from 136): one date outside is enough, the 34-day cycle times all of them
    assert [(m.stage, m.day) for m in timings.model_days] == [("lapsed", 309), ("churned", 134)]
    assert timings.source == "cycle"
    assert (days["winback series"], days["last chance, then sunset"], days["past the usual gap"]) == (
        68,
        136,
        42,
    )
    given = resolve(context.model_copy(update={"lapse_days": 90}), lib, data)
    series = next(
        t
        for t in trigger_rows(lib, given, build_timings(lib, given, data.scoring.predictions))
        if t.name == "winback series"
    )
    assert (series.day, series.timing) == (90, "day 90 (lapsed stage starts: your lapse threshold)")


def test_p_alive_bands_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="medium_from must be below low_from"):
        PAliveBands(low_from=0.3, medium_from=0.7)


def test_the_fallback_reuses_the_backtest_instead_of_running_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small_orders.csv: the whole-history BG/NBD fit fails (3 of 5 customers), which used to rerun the backtest
    from crm_winback.predict import backtest, service

    calls: list[object] = []
    original = backtest.run_backtest

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "run_backtest", counted)
    monkeypatch.setattr(backtest, "run_backtest", counted)
    result, _ = score_file(DATA / "small_orders.csv", score_options=ScoreOptions(predict=True))
    model = result.scoring.predictions
    assert model is not None and model.fallback_reason is not None and "only 3 of 5" in model.fallback_reason
    assert model.backtest is not None and model.backtest.status == "too little history"
    assert len(calls) == 1


def test_the_scores_model_columns_are_the_predict_commands_numbers(
    cdnow: tuple[ScoreResult, Path], tmp_path: Path
) -> None:
    # score --predict adds the forecast to the scores itself (scoring.predicted); the predict command writes the
    # same forecast to its own table (predict.service): one forecast, rounded the same way in both files
    from crm_winback.api import predict_file

    out = tmp_path / "predictions.csv"
    predict_file(CDNOW, output=out)
    with out.open(encoding="utf-8", newline="") as fh:
        predicted = {row["customer_id"]: row for row in csv.DictReader(fh)}
    with cdnow[1].open(encoding="utf-8", newline="") as fh:
        scores = list(csv.DictReader(fh))
    assert len(scores) == len(predicted) == 23570
    for row in scores:
        other = predicted[row["customer_id"]]
        assert {k: row[k] for k in MODEL_COLUMNS} == {k: other[k] for k in MODEL_COLUMNS}, row["customer_id"]
        assert row["churn_risk"] == other["churn_risk"]


def test_customers_the_model_did_not_see_keep_the_heuristic(
    cdnow: tuple[ScoreResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # when the model summary and the scores do not hold the same customers, the numbers are joined on customer
    # id instead of side by side: a customer missing from the summary gets empty model columns and keeps the
    # heuristic churn risk, every other customer the numbers of the full run
    from crm_winback.predict import service

    original = service.prepare

    def one_fewer(ingested, *args, **kwargs):  # type: ignore[no-untyped-def]
        prepared = original(ingested, *args, **kwargs)
        ingested.con.execute(f"DELETE FROM {prepared.summary.table} WHERE customer_id = '00001'")
        return prepared

    monkeypatch.setattr(service, "prepare", one_fewer)
    out = tmp_path / "joined.csv"
    score_file(CDNOW, score_options=ScoreOptions(predict=True), output=out)
    score_file(CDNOW, output=tmp_path / "plain.csv")
    with out.open(encoding="utf-8", newline="") as fh:
        joined = list(csv.DictReader(fh))
    with cdnow[1].open(encoding="utf-8", newline="") as fh:
        full = list(csv.DictReader(fh))
    with (tmp_path / "plain.csv").open(encoding="utf-8", newline="") as fh:
        heuristic = next(csv.DictReader(fh))
    assert joined[0]["customer_id"] == heuristic["customer_id"] == "00001"
    assert all(joined[0][k] == "" for k in MODEL_COLUMNS)
    assert joined[0]["churn_risk"] == heuristic["churn_risk"] == "high"
    assert full[0]["p_alive"] != ""
    assert joined[1:] == full[1:]
