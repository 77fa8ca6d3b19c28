"""BG/NBD and Gamma-Gamma against the published CDNOW results, plus the invariants the fits rely on.

Reference numbers (CDNOW 1/10 sample, 2,357 customers, weeks, 39-week calibration, see data/cdnow/SOURCE.md):
- BG/NBD: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting Your Customers the Easy Way", Marketing
  Science 24(2): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4; E[X(t)] for t = 1, 3, 78 weeks
  = 0.0532, 0.1506, 1.8576; E[Y(39) | x = 2, t_x = 30.43, T = 38.86] = 1.226. The R BTYD walkthrough gives
  r = 0.2425982, alpha = 4.4136842, a = 0.7929899, b = 2.4261667, LL = -9582.429.
- Gamma-Gamma: P. S. Fader, B. G. S. Hardie (2013), note 025 "The Gamma-Gamma Model of Monetary Value",
  946 repeat buyers: p = 6.25, q = 3.74, v = 15.44.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_winback.errors import DataError, InputError
from crm_winback.predict import (
    BgNbdParams,
    GammaGammaParams,
    conditional_expected_average_spend,
    conditional_expected_purchases,
    customer_lifetime_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    log_likelihood,
    one_time_buyer_survival,
    probability_alive,
    winback,
)

CDNOW = Path(__file__).parent / "data" / "cdnow"
FHL_2005 = BgNbdParams(r=0.2425982, alpha=4.4136842, a=0.7929899, b=2.4261667, time_unit="weeks")


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    data = np.loadtxt(CDNOW / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    return {"x": data[:, 1], "t_x": data[:, 2], "T": data[:, 3], "zbar": data[:, 4]}


@pytest.fixture(scope="module")
def fitted(cdnow: dict[str, np.ndarray]) -> BgNbdParams:
    return fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], time_unit="weeks")


def test_cdnow_summary_files_agree(cdnow: dict[str, np.ndarray]) -> None:
    plain = np.loadtxt(CDNOW / "cdnow_customers_summary.csv", delimiter=",", skiprows=1)
    assert len(plain) == len(cdnow["x"]) == 2357
    np.testing.assert_allclose(plain[:, 1:], np.column_stack([cdnow["x"], cdnow["t_x"], cdnow["T"]]))


def test_bgnbd_fit_reproduces_fhl_2005_parameters_and_log_likelihood(fitted: BgNbdParams) -> None:
    assert [sig3(v) for v in (fitted.r, fitted.alpha, fitted.a, fitted.b)] == [0.243, 4.41, 0.793, 2.43]
    assert round(fitted.log_likelihood or 0.0, 1) == -9582.4
    # Our optimum, to 6 digits: it is the maximum (BTYD stops ~1e-4 short of it, hence its 5th digits).
    np.testing.assert_allclose(
        [fitted.r, fitted.alpha, fitted.a, fitted.b], [0.2425929, 4.413532, 0.7928862, 2.425753], rtol=1e-6
    )
    assert fitted.log_likelihood == pytest.approx(-9582.425561, abs=1e-5)
    assert (fitted.time_unit, fitted.n_customers, fitted.n_repeat_buyers) == ("weeks", 2357, 946)


def test_log_likelihood_at_btyd_parameters_matches_btyd(cdnow: dict[str, np.ndarray]) -> None:
    total = log_likelihood(FHL_2005, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert total == pytest.approx(-9582.43, abs=0.005)


@pytest.mark.parametrize("params", ["published", "fitted"])
def test_unconditional_expected_purchases_match_fhl_2005(params: str, fitted: BgNbdParams) -> None:
    model = FHL_2005 if params == "published" else fitted
    expected = expected_purchases(model, [1.0, 3.0, 78.0])
    assert [sig3(v) for v in expected] == [sig3(0.0532), sig3(0.1506), sig3(1.8576)]


def test_unconditional_expected_purchases_exact_values() -> None:
    np.testing.assert_allclose(
        expected_purchases(FHL_2005, [1.0, 3.0, 78.0]), [0.05318416, 0.15063064, 1.85794188], rtol=1e-6
    )
    assert expected_purchases(FHL_2005, [0.0])[0] == 0.0


@pytest.mark.parametrize("params", ["published", "fitted"])
def test_conditional_expectation_for_customer_1_matches_fhl_2005(params: str, fitted: BgNbdParams) -> None:
    model = FHL_2005 if params == "published" else fitted
    value = conditional_expected_purchases(model, 39.0, 2, 30.43, 38.86)[0]
    assert round(value, 3) == 1.226


def test_conditional_expectation_matches_the_unsimplified_formula(cdnow: dict[str, np.ndarray]) -> None:
    # FHL eq. 10 as printed, without the Euler transformation we use: the two must agree for every customer.
    from scipy import special

    r, alpha, a, b = FHL_2005.r, FHL_2005.alpha, FHL_2005.a, FHL_2005.b
    x, t_x, T, t = cdnow["x"], cdnow["t_x"], cdnow["T"], 39.0
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    tail = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    np.testing.assert_allclose(conditional_expected_purchases(FHL_2005, t, x, t_x, T), head / tail, rtol=1e-9)


def test_expected_purchases_curve_is_each_customers_expectation_to_the_bit(
    cdnow: dict[str, np.ndarray],
) -> None:
    # the curve evaluates the hypergeometric term once per distinct (x, T) for every horizon (the forecast's
    # horizon and CLV's periods); one horizon per customer evaluates every customer on its own: the same bits
    from crm_winback.predict.bgnbd import expected_purchases_curve

    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    curve = expected_purchases_curve(FHL_2005, x, t_x, T)
    for t in (0.0, 4.3, 39.0, 52.0, 520.0):
        each = conditional_expected_purchases(FHL_2005, np.full(len(x), t), x, t_x, T)
        assert np.array_equal(curve(t), each), t
        assert np.array_equal(conditional_expected_purchases(FHL_2005, t, x, t_x, T), each), t
    with pytest.raises(InputError, match="must be >= 0"):
        curve(-1.0)


def test_gamma_gamma_reproduces_note_025(cdnow: dict[str, np.ndarray]) -> None:
    params = fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    assert (params.n_customers, params.n_excluded) == (946, 1411)
    assert [sig3(v) for v in (params.p, params.q, params.v)] == [6.25, 3.74, 15.4]
    np.testing.assert_allclose([params.p, params.q, params.v], [6.248804, 3.744588, 15.44774], rtol=1e-5)
    assert params.log_likelihood == pytest.approx(-4055.9232, abs=1e-3)


def test_grouped_rows_with_weights_fit_the_same_as_raw_rows(
    cdnow: dict[str, np.ndarray], fitted: BgNbdParams
) -> None:
    rows = np.column_stack([cdnow["x"], cdnow["t_x"], cdnow["T"]])
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    assert len(distinct) == fitted.n_distinct_rows == 1016
    grouped = fit_bgnbd(distinct[:, 0], distinct[:, 1], distinct[:, 2], time_unit="weeks", weights=counts)
    for name in ("r", "alpha", "a", "b", "log_likelihood"):
        assert getattr(grouped, name) == pytest.approx(getattr(fitted, name), rel=1e-9)
    assert grouped.n_customers == 2357
    # and the fit's log-likelihood is the plain per-customer sum
    per_customer = log_likelihood(fitted, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert per_customer.sum() == pytest.approx(fitted.log_likelihood, rel=1e-12)


def test_row_order_does_not_change_the_fit(cdnow: dict[str, np.ndarray], fitted: BgNbdParams) -> None:
    order = np.random.default_rng(7).permutation(len(cdnow["x"]))
    shuffled = fit_bgnbd(cdnow["x"][order], cdnow["t_x"][order], cdnow["T"][order], time_unit="weeks")
    assert shuffled == fitted


def test_one_time_buyers_are_alive_with_certainty_in_bgnbd() -> None:
    assert probability_alive(FHL_2005, [0, 0], [0.0, 0.0], [1.0, 300.0]).tolist() == [1.0, 1.0]


def test_probability_alive_for_customer_1_by_hand() -> None:
    # 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)) with x = 2, t_x = 30.43, T = 38.86
    by_hand = 1 / (1 + 0.7929899 / 3.4261667 * ((4.4136842 + 38.86) / (4.4136842 + 30.43)) ** 2.2425982)
    assert probability_alive(FHL_2005, 2, 30.43, 38.86)[0] == pytest.approx(by_hand, rel=1e-12)
    assert round(by_hand, 4) == 0.7266


@settings(max_examples=200, deadline=None)
@given(
    x=st.integers(min_value=1, max_value=200),
    t_x=st.floats(min_value=0.0, max_value=500.0),
    silence=st.floats(min_value=0.0, max_value=500.0),
    later=st.floats(min_value=1e-3, max_value=500.0),
    r=st.floats(min_value=0.01, max_value=20.0),
    alpha=st.floats(min_value=0.01, max_value=500.0),
    a=st.floats(min_value=0.01, max_value=20.0),
    b=st.floats(min_value=0.01, max_value=20.0),
)
def test_probability_alive_never_rises_while_the_customer_stays_silent(
    x: int, t_x: float, silence: float, later: float, r: float, alpha: float, a: float, b: float
) -> None:
    params = BgNbdParams(r=r, alpha=alpha, a=a, b=b, time_unit="days")
    T = t_x + silence
    now, then = probability_alive(params, [x, x], [t_x, t_x], [T, T + later])
    assert 0.0 <= then <= now <= 1.0


def test_winback_offset_is_where_probability_alive_crosses_the_threshold(
    cdnow: dict[str, np.ndarray], fitted: BgNbdParams
) -> None:
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    for threshold in (0.3, 0.5, 0.8):
        timing = winback(fitted, x, t_x, T, threshold)
        repeat = x > 0
        assert np.array_equal(timing.shop_level, ~repeat)
        ahead = repeat & (timing.offset > 0)
        assert ahead.sum() > 100
        eps = 1e-6
        just_after = probability_alive(fitted, x[ahead], t_x[ahead], T[ahead] + timing.offset[ahead] + eps)
        just_before = probability_alive(fitted, x[ahead], t_x[ahead], T[ahead] + timing.offset[ahead] - eps)
        assert np.all(just_after < threshold) and np.all(just_before > threshold)
        overdue = repeat & (timing.offset == 0)
        assert np.all(probability_alive(fitted, x[overdue], t_x[overdue], T[overdue]) <= threshold + 1e-12)
        np.testing.assert_allclose(timing.offset[repeat], np.maximum(t_x + timing.gap - T, 0)[repeat])


def test_winback_gap_for_customer_1_by_hand() -> None:
    # P(alive) = 0.5 where (a / (b + 1)) ((alpha + t_x + gap) / (alpha + t_x))^(r + 2) = 1
    by_hand = (4.4136842 + 30.43) * ((3.4261667 / 0.7929899) ** (1 / 2.2425982) - 1)
    timing = winback(FHL_2005, 2, 30.43, 38.86)
    assert timing.gap[0] == pytest.approx(by_hand, rel=1e-12)
    assert timing.offset[0] == pytest.approx(30.43 + by_hand - 38.86, rel=1e-12)
    assert round(timing.gap[0], 2) == 32.07


def test_one_time_buyers_get_the_shop_level_gap() -> None:
    timing = winback(FHL_2005, [0, 0], [0.0, 0.0], [10.0, 100.0], threshold=0.5)
    # half of new customers make their second purchase within alpha (2^(1/r) - 1) weeks
    shop_gap = 4.4136842 * (2 ** (1 / 0.2425982) - 1)
    np.testing.assert_allclose(timing.gap, [shop_gap, shop_gap], rtol=1e-12)
    np.testing.assert_allclose(timing.offset, [shop_gap - 10.0, 0.0], rtol=1e-12)
    assert timing.shop_level.tolist() == [True, True]
    assert one_time_buyer_survival(FHL_2005, [shop_gap])[0] == pytest.approx(0.5, rel=1e-12)
    assert round(shop_gap, 1) == 72.4


def test_threshold_must_be_a_probability() -> None:
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(InputError, match="threshold"):
            winback(FHL_2005, 1, 1.0, 2.0, bad)


def test_too_few_repeat_buyers_is_a_data_error() -> None:
    x = np.array([1.0] * 29 + [0.0] * 500)
    t_x = np.where(x > 0, 10.0, 0.0)
    with pytest.raises(DataError, match="only 29 of 529 customers bought more than once"):
        fit_bgnbd(x, t_x, np.full(len(x), 40.0), time_unit="weeks")


def test_too_short_a_history_is_a_data_error(cdnow: dict[str, np.ndarray]) -> None:
    # the CDNOW history is 39 weeks: read as days it is under the eight-week minimum
    with pytest.raises(DataError, match="spans only 39 days"):
        fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], time_unit="days")


def test_no_sign_of_drop_out_is_a_data_error_naming_the_parameter() -> None:
    # everyone bought right up to the as-of date: the drop-out parameter a runs off to 0
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0] * 20)
    T = np.full(100, 52.0)
    with pytest.raises(DataError, match="parameter a ran off towards zero"):
        fit_bgnbd(x, T, T, time_unit="weeks")


@pytest.mark.parametrize(
    ("x", "t_x", "T", "message"),
    [
        ([1.5], [1.0], [2.0], "whole numbers"),
        ([1], [3.0], [2.0], "between 0 and T"),
        ([0], [1.0], [2.0], "t_x must be 0"),
        ([1], [np.nan], [2.0], "NaN"),
    ],
)
def test_impossible_customer_summaries_are_input_errors(x: list, t_x: list, T: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        probability_alive(FHL_2005, x, t_x, T)


def test_unknown_time_unit_is_an_input_error(cdnow: dict[str, np.ndarray]) -> None:
    with pytest.raises(InputError, match="time_unit"):
        fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], time_unit="months")  # type: ignore[arg-type]


def test_penalizer_shrinks_parameters_to_a_stationary_point_of_the_penalized_objective(
    cdnow: dict[str, np.ndarray], fitted: BgNbdParams
) -> None:
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    penalized = fit_bgnbd(x, t_x, T, time_unit="weeks", penalizer_coef=0.01)
    theta = np.array([penalized.r, penalized.alpha, penalized.a, penalized.b])
    assert penalized.a < fitted.a and penalized.b < fitted.b
    assert penalized.log_likelihood is not None and fitted.log_likelihood is not None
    assert penalized.log_likelihood < fitted.log_likelihood

    def objective(values: np.ndarray) -> float:
        model = BgNbdParams(r=values[0], alpha=values[1], a=values[2], b=values[3], time_unit="weeks")
        shrunk = values / np.array([1.0, T.max(), 1.0, 1.0])
        return -log_likelihood(model, x, t_x, T).mean() + 0.01 * float(shrunk @ shrunk)

    step = 1e-6 * theta
    unit = np.eye(4)
    slope = [
        (objective(theta + unit[i] * step) - objective(theta - unit[i] * step)) / (2 * step[i])
        for i in range(4)
    ]
    np.testing.assert_allclose(slope, 0.0, atol=1e-7)


def test_penalized_fits_match_lifetimes(cdnow: dict[str, np.ndarray]) -> None:
    # lifetimes 0.11.3 BetaGeoFitter(penalizer_coef=0.01) / GammaGammaFitter(penalizer_coef=0.01) on this file
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    bgnbd = fit_bgnbd(x, t_x, T, time_unit="weeks", penalizer_coef=0.01)
    np.testing.assert_allclose(
        [bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b], [0.24294034, 4.43243717, 0.28564154, 0.65845367], rtol=1e-4
    )
    in_days = fit_bgnbd(x, t_x * 7, T * 7, time_unit="days", penalizer_coef=0.01)
    assert in_days.alpha == pytest.approx(7 * bgnbd.alpha, rel=1e-5)
    assert in_days.a == pytest.approx(bgnbd.a, rel=1e-5)
    spend = fit_gamma_gamma(x, cdnow["zbar"], penalizer_coef=0.01)
    np.testing.assert_allclose([spend.p, spend.q, spend.v], [4.10925026, 0.96838542, 3.78080142], rtol=1e-5)


def test_gamma_gamma_needs_enough_repeat_buyers_with_spend() -> None:
    with pytest.raises(DataError, match="only 3 customers have a repeat purchase with a positive value"):
        fit_gamma_gamma([0, 1, 2, 3, 4], [0.0, 10.0, 12.0, 0.0, 9.0])


def test_expected_spend_shrinks_towards_the_population_mean() -> None:
    params = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    population = 6.25 * 15.44 / 2.74
    assert params.population_mean_spend == pytest.approx(population)
    spend = conditional_expected_average_spend(params, [0, 2, 50], [0.0, 22.35, 22.35])
    assert spend[0] == pytest.approx(population)
    assert spend[1] == pytest.approx(6.25 * (15.44 + 2 * 22.35) / (6.25 * 2 + 2.74))
    assert population > spend[1] > spend[2] > 22.35  # more orders, more weight on the customer's own mean


def test_expected_spend_is_undefined_without_a_finite_mean() -> None:
    heavy = GammaGammaParams(p=0.5, q=0.4, v=10.0)
    spend = conditional_expected_average_spend(heavy, [0, 1, 2], [0.0, 10.0, 10.0])
    assert np.isnan(spend[0]) and np.isnan(spend[1]) and np.isfinite(spend[2])
    assert heavy.population_mean_spend == float("inf")


def test_clv_is_discounted_expected_orders_times_spend_and_margin() -> None:
    x, t_x, T = np.array([2.0, 0.0]), np.array([30.43, 0.0]), np.array([38.86, 38.86])
    spend = np.array([20.0, 30.0])
    undiscounted = customer_lifetime_value(
        FHL_2005, spend, x, t_x, T, horizon=39, period=13, discount_rate=0.0
    )
    np.testing.assert_allclose(undiscounted, spend * conditional_expected_purchases(FHL_2005, 39, x, t_x, T))
    clv = customer_lifetime_value(
        FHL_2005, spend, x, t_x, T, horizon=39, period=13, discount_rate=0.1, margin=0.3
    )
    cumulative = [conditional_expected_purchases(FHL_2005, t, x, t_x, T) for t in (0.0, 13.0, 26.0, 39.0)]
    by_hand = sum((cumulative[i] - cumulative[i - 1]) / 1.1**i for i in (1, 2, 3))
    np.testing.assert_allclose(clv, 0.3 * spend * by_hand, rtol=1e-12)
    # a last partial period ends at the horizon
    partial = customer_lifetime_value(FHL_2005, spend, x, t_x, T, horizon=20, period=13, discount_rate=0.0)
    np.testing.assert_allclose(partial, spend * conditional_expected_purchases(FHL_2005, 20, x, t_x, T))


def test_analytic_gradients_match_finite_differences(cdnow: dict[str, np.ndarray]) -> None:
    from crm_winback.predict import bgnbd, gamma_gamma
    from crm_winback.predict.fitting import group_rows

    x, t_x, T, zbar = cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["zbar"]
    repeat = x > 0
    cases = [
        (bgnbd._FitData(group_rows([x, t_x, T], None)), np.array([0.3, 5.0, 0.7, 2.0])),
        (gamma_gamma._FitData(group_rows([x[repeat], zbar[repeat]], None)), np.array([5.0, 3.0, 12.0])),
    ]
    for data, theta in cases:
        _, grad = data.value_and_grad(theta)
        numeric = []
        for i in range(len(theta)):
            step = np.zeros_like(theta)
            step[i] = 1e-6 * theta[i]
            up, _ = data.value_and_grad(theta + step)
            down, _ = data.value_and_grad(theta - step)
            numeric.append((up - down) / (2 * step[i]))
        np.testing.assert_allclose(grad, numeric, rtol=1e-5)
    # and the per-row likelihood agrees with the grouped evaluation
    params = BgNbdParams(r=0.3, alpha=5.0, a=0.7, b=2.0, time_unit="weeks")
    value, _ = cases[0][0].value_and_grad(np.array([0.3, 5.0, 0.7, 2.0]))
    assert value == pytest.approx(log_likelihood(params, x, t_x, T).sum(), rel=1e-12)
