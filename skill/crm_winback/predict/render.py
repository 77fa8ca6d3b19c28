"""Terminal and markdown layout of the prediction summary and the validation report (no numbers computed)."""

from __future__ import annotations

from crm_winback.predict.service import GroupSummary, PredictionSummary
from crm_winback.predict.validation import ValidationReport
from crm_winback.tables import markdown_table, pct, text_table

GROUP_HEADERS = ["group", "customers", "mean P(alive)", "expected orders", "CLV total", "CLV mean",
                 "median days to winback", "winback passed"]  # fmt: skip


def _group_row(g: GroupSummary) -> list[object]:
    return [g.group, g.customers, round(g.mean_p_alive, 3), g.expected_orders, g.clv_total, g.clv_mean,
            g.median_days_until_winback, pct(g.share_winback_passed)]  # fmt: skip


def _heading(title: str, fmt: str) -> str:
    return f"## {title}" if fmt == "markdown" else title.upper()


def render_prediction(s: PredictionSummary, fmt: str) -> str:
    """The per-segment summary of a prediction run, as a text or markdown table with the model settings."""
    table = markdown_table if fmt == "markdown" else text_table
    o, b, g = s.options, s.bgnbd, s.gamma_gamma
    shop_gap = (
        f"{s.shop_level_winback_days:,.0f} days after the order" if s.shop_level_winback_days else "none"
    )
    spend = f"p={g.p:.4g} q={g.q:.4g} v={g.v:.4g} on {g.n_customers:,} repeat buyers" if g else "not fitted"
    bgnbd = (
        f"r={b.r:.4g} alpha={b.alpha:.4g} a={b.a:.4g} b={b.b:.4g} (time unit: {b.time_unit}; "
        f"log-likelihood {b.log_likelihood:,.1f})"
        if b is not None
        else "not used (see the notes)"
    )
    forecasts = s.forecast_model + (
        f" ({', '.join(f'{k}={v:.4g}' for k, v in s.forecast_parameters.items())})"
        if s.forecast_parameters
        else ""
    )
    settings = [
        ("as-of date", s.as_of),
        ("customers", f"{s.customers:,} ({s.one_time_buyers:,} one-time buyers)"),
        ("per-customer forecasts", forecasts),
        ("BG/NBD", bgnbd),
        ("Gamma-Gamma", spend),
        ("horizon", f"{o.horizon_days} days; CLV per {o.period_days}-day period, discount "
                    f"{o.discount_rate:g} per period, margin {o.margin:g}"),
        ("winback threshold", f"P(alive) {o.threshold:g}; one-time buyers (shop level): {shop_gap}"),
    ]  # fmt: skip
    parts = [
        _heading("Prediction", fmt),
        table(["item", "value"], [list(r) for r in settings]),
        "",
        _heading("By segment", fmt),
        table(GROUP_HEADERS, [_group_row(r) for r in [*s.by_segment, s.overall]]),
    ]
    if s.backtest is not None:
        parts += ["", _heading("Backtest", fmt), *s.backtest.summary_lines()]
    if s.notes:
        parts += ["", *(f"note: {n}" for n in s.notes)]
    if s.predictions_file:
        parts += ["", f"per-customer predictions: {s.predictions_file}"]
    return "\n".join(parts) + "\n"


def render_validation(r: ValidationReport, fmt: str) -> str:
    """Predicted vs actual holdout repeat purchases, in total and by decile, against the naive forecast."""
    table = markdown_table if fmt == "markdown" else text_table
    b, g = r.bgnbd, r.gamma_gamma
    head = [
        ("calibration", f"{r.calibration_start} .. {r.calibration_end} ({r.customers:,} customers)"),
        ("holdout", f"{r.calibration_end} .. {r.holdout_end} ({r.holdout_days} days)"),
        (
            "BG/NBD",
            r.bgnbd_runaway
            or f"r={b.r:.4g} alpha={b.alpha:.4g} a={b.a:.4g} b={b.b:.4g} (time unit: {b.time_unit})",
        ),
        ("Gamma-Gamma", f"p={g.p:.4g} q={g.q:.4g} v={g.v:.4g}" if g else "not fitted"),
    ]
    totals: list[list[object]] = [
        ["actual", r.actual, "-", "-"],
        [
            "BG/NBD (runaway, not used)" if r.bgnbd_runaway else "BG/NBD",
            r.predicted,
            f"{r.predicted_error_pct:+.1f}%",
            r.mae_predicted,
        ],
        ["naive (same rate)", r.naive, f"{r.naive_error_pct:+.1f}%", r.mae_naive],
    ]
    parts = [
        _heading("Validation", fmt),
        table(["item", "value"], [list(h) for h in head]),
        "",
        _heading("Holdout repeat purchases", fmt),
        table(["forecast", "total", "error", "MAE per customer"], totals),
        "",
        _heading("By decile of prediction", fmt),
        table(
            ["decile", "customers", "predicted", "actual", "naive"],
            [[d.decile, d.customers, d.predicted, d.actual, d.naive] for d in r.deciles],
        ),
    ]
    if r.spend_predicted is not None and r.spend_actual is not None:
        parts += ["", f"spend per order of holdout buyers: predicted {r.spend_predicted:,.2f}, "
                      f"actual {r.spend_actual:,.2f}"]  # fmt: skip
    if r.backtest is not None:
        parts += ["", _heading("Backtest", fmt), *r.backtest.summary_lines()]
    parts += [f"note: {n}" for n in r.notes]
    return "\n".join(parts) + "\n"
