"""BG/NBD: how often a customer buys and whether they are still a customer (Fader, Hardie & Lee 2005).

While alive, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each repeat purchase they drop
out with probability p ~ Beta(a, b). Each customer is summarised by x (repeat purchases after the first), t_x
(time of the last purchase, from the first) and T (time from the first purchase to the end of observation).
Every time argument is in the unit the parameters were fitted in, ``BgNbdParams.time_unit``: alpha is a time
scale, so the same data fitted in days gives an alpha 7 times the one fitted in weeks.

Reference: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting Your Customers the Easy Way: An
Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284; equations numbered as there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from crm_winback.errors import DataError, InputError
from crm_winback.models.predictions import BgNbdParams
from crm_winback.predict.fitting import (
    DAYS_PER_UNIT,
    Grouped,
    TimeUnit,
    as_float_array,
    check_time_unit,
    dot,
    group_rows,
    minimize_log_params,
)

# Fewer repeat buyers than this leave a (drop-out) and b poorly determined: the fit wanders to a boundary.
MIN_REPEAT_BUYERS = 30
# Customers need time to show a repeat purchase; below eight weeks of history the rate is not identified.
MIN_HISTORY_DAYS = 56.0

FloatArray = NDArray[np.float64]


class Winback(NamedTuple):
    """Per-customer winback timing, every time in the parameters' unit.

    ``gap``: time since the last purchase at which P(alive) reaches the threshold. ``offset``: how long after
    T (the as-of point) that happens, 0 if it already has. ``shop_level``: the row is a one-time buyer and got
    the shop-level gap (see :func:`winback`).
    """

    gap: FloatArray
    offset: FloatArray
    shop_level: NDArray[np.bool_]


def _rfm(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    xs, txs, Ts = (as_float_array(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
    xs, txs, Ts = np.broadcast_arrays(xs, txs, Ts)
    if np.any(xs < 0) or np.any(xs != np.round(xs)):
        raise InputError("x (repeat purchases) must be whole numbers >= 0")
    if np.any(txs < 0) or np.any(txs > Ts):
        raise InputError("t_x (time of the last purchase) must lie between 0 and T for every customer")
    if np.any((xs == 0) & (txs != 0)):
        raise InputError("t_x must be 0 for customers with x = 0 (no repeat purchase)")
    return xs, txs, Ts


def _log_likelihood_rows(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """Per-row log-likelihood, FHL eq. 6: ln A1 + ln A2 + ln(A3 + [x > 0] A4), A3 and A4 added in logs."""
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)  # the A4 term exists only for x > 0; b + x - 1 may be <= 0 at x = 0
    log_a3 = -(r + x) * np.log(alpha + T)
    log_a4 = np.where(repeat, np.log(a) - np.log(b + x_safe - 1.0) - (r + x) * np.log(alpha + t_x), -np.inf)
    return np.asarray(
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
        + np.logaddexp(log_a3, log_a4),
        dtype=np.float64,
    )


class _FitData:
    """Grouped rows plus what the likelihood needs from them that does not depend on the parameters."""

    def __init__(self, grouped: Grouped) -> None:
        self.x, self.t_x, self.T = grouped.columns
        self.w = grouped.weights
        self.total = float(self.w.sum())
        self.x_level, self.tx_level, self.T_level = grouped.levels
        self.x_weight = self.x_level.weights(self.w)
        self.repeat = self.x > 0
        self.w_repeat = np.where(self.repeat, self.w, 0.0)

    def value_and_grad(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Weighted log-likelihood and its gradient in (r, alpha, a, b).

        Terms that depend on x alone (the Gamma and Beta functions) are computed once per distinct x and
        weighted by how many customers have it; logs of alpha + T and alpha + t_x once per distinct time.
        Per row only the mixing of the "alive" (A3) and "dropped out" (A4) terms remains.
        """
        r, alpha, a, b = (float(v) for v in theta)
        ux = self.x_level.values
        ux_safe = np.maximum(ux, 1.0)
        x = self.x
        log_alpha_T = np.log(alpha + self.T_level.values)[self.T_level.index]
        log_alpha_tx = np.log(alpha + self.tx_level.values)[self.tx_level.index]
        log_b_x1 = np.log(b + ux_safe - 1.0)[self.x_level.index]
        rx = r + x
        log_a3 = -rx * log_alpha_T
        # A4 / A3 as a log-ratio: only its logistic is needed, and rows with x = 0 have no A4 (ratio 0)
        log_ratio = np.log(a) - log_b_x1 - rx * (log_alpha_tx - log_alpha_T)
        log_ratio = np.where(self.repeat, log_ratio, -np.inf)
        w4 = special.expit(log_ratio)  # share of the likelihood from "dropped out after the last purchase"
        log_sum = log_a3 + np.logaddexp(0.0, log_ratio)
        per_x = (
            special.gammaln(r + ux) - special.gammaln(r) + special.betaln(a, b + ux) - special.betaln(a, b)
        )
        value = dot(self.x_weight, per_x) + self.total * r * np.log(alpha) + dot(self.w, log_sum)
        w3 = 1.0 - w4
        dig_ab, dig_abx = special.digamma(a + b), special.digamma(a + b + ux)
        ww4 = self.w * w4
        inv_b_x1 = (1.0 / (b + ux_safe - 1.0))[self.x_level.index]
        grad = np.array(
            [
                dot(self.x_weight, special.digamma(r + ux) - special.digamma(r))
                + self.total * np.log(alpha)
                - dot(self.w, w3 * log_alpha_T + w4 * log_alpha_tx),
                self.total * r / alpha
                - dot(
                    self.w * rx,
                    w3 / (alpha + self.T_level.values)[self.T_level.index] + w4 / (alpha + self.t_x),
                ),
                dot(self.x_weight, dig_ab - dig_abx) + float(ww4.sum()) / a,
                dot(self.x_weight, dig_ab + special.digamma(b + ux) - special.digamma(b) - dig_abx)
                - dot(ww4, inv_b_x1),
            ]
        )
        return value, grad


def log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (FHL 2005 eq. 6) at ``params``."""
    xs, txs, Ts = _rfm(x, t_x, T)
    return _log_likelihood_rows(params.r, params.alpha, params.a, params.b, xs, txs, Ts)


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    time_unit: TimeUnit,
    weights: ArrayLike | None = None,
    penalizer_coef: float = 0.0,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> BgNbdParams:
    """Fit BG/NBD by maximum likelihood; ``weights`` lets the caller pass rows already grouped with counts.

    The objective is the mean negative log-likelihood plus
    ``penalizer_coef * (r^2 + (alpha / max T)^2 + a^2 + b^2)``: the L2 penalty of lifetimes'
    ``BetaGeoFitter``, which measures alpha in units of the longest customer history, so the same coefficient
    gives the same fit in days and in weeks. A penalty of 0.001-0.1 keeps a fit on thin data away from the
    model's degenerate limits towards infinity.
    Raises DataError when there are fewer than ``min_repeat_buyers`` repeat buyers, the history is shorter
    than eight weeks, or the optimizer finds no finite interior maximum.
    """
    unit = check_time_unit(time_unit)
    xs, txs, Ts = _rfm(x, t_x, T)
    if penalizer_coef < 0:
        raise InputError(f"penalizer_coef must be >= 0, got {penalizer_coef}")
    grouped = group_rows([xs, txs, Ts], weights)
    data = _FitData(grouped)
    n_customers = data.total
    n_repeat = float(data.w_repeat.sum())
    if n_repeat < min_repeat_buyers:
        raise DataError(
            f"only {n_repeat:.0f} of {n_customers:.0f} customers bought more than once; the BG/NBD model "
            f"needs at least {min_repeat_buyers} repeat buyers: use a longer order history"
        )
    longest = float(data.T.max())
    history_days = longest * DAYS_PER_UNIT[unit]
    if history_days < MIN_HISTORY_DAYS:
        raise DataError(
            f"the order history spans only {history_days:.0f} days; the BG/NBD model needs at least "
            f"{MIN_HISTORY_DAYS:.0f} days between the first order and the as-of date"
        )
    penalty_scale = np.array([1.0, 1.0 / longest, 1.0, 1.0])

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(log_params)
        ll, grad = data.value_and_grad(theta)
        shrunk = theta * penalty_scale
        value = -ll / n_customers + penalizer_coef * float(shrunk @ shrunk)
        d_theta = -grad / n_customers + 2.0 * penalizer_coef * shrunk * penalty_scale
        return value, d_theta * theta  # chain rule to log-parameters

    # Start from the no-drop-out NBD rate: r = 1 and alpha so that r / alpha is the mean repeat rate.
    mean_rate = dot(data.w, data.x) / dot(data.w, data.T)
    start = np.array([1.0, 1.0 / mean_rate, 1.0, 1.0])
    optimum = minimize_log_params(objective, start, ("r", "alpha", "a", "b"), "BG/NBD")
    r, alpha, a, b = (float(v) for v in optimum.params)
    ll = dot(data.w, _log_likelihood_rows(r, alpha, a, b, data.x, data.t_x, data.T))
    return BgNbdParams(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        time_unit=unit,
        log_likelihood=ll,
        n_customers=round(n_customers),
        n_repeat_buyers=round(n_repeat),
        n_distinct_rows=len(data.w),
        penalizer_coef=penalizer_coef,
        iterations=optimum.iterations,
    )


def _expected_purchases_from(
    params: BgNbdParams, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """FHL eq. 10; with x = t_x = T = 0 it is eq. 7, the unconditional E[X(t)]."""
    return np.asarray(_numerator(params, t, x, T) / _denominator(params, x, t_x, T), dtype=np.float64)


def _numerator(params: BgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    """The numerator of FHL eq. 10: it depends on (x, T) and the horizon, not on t_x."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    # Euler's transformation 2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z) turns the
    # ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; z) of the paper into
    # (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z): no parameter grows with x, so it stays
    # accurate for heavy buyers and long horizons.
    hyp = special.hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    with np.errstate(divide="ignore"):
        head = -np.expm1((a - 1.0) * np.log1p(-z)) - np.exp((a - 1.0) * np.log1p(-z)) * (hyp - 1.0)
    return np.asarray((a + b + x - 1.0) / (a - 1.0) * head, dtype=np.float64)


def _denominator(params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """The denominator of FHL eq. 10: 1 + the odds of having dropped out after the last purchase (1 for x = 0)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    log_odds = np.log(a) - np.log(b + x_safe - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.asarray(1.0 + np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0), dtype=np.float64)


def expected_purchases_curve(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Callable[[float], FloatArray]:
    """``t -> E[Y(t) | x, t_x, T]`` per customer (:func:`conditional_expected_purchases`), for many horizons.

    The hypergeometric term depends on (x, T) alone, which far fewer distinct values take than (x, t_x, T)
    (the 2.3M customers of the 10M-line bench file: a few thousand pairs); it is evaluated once per pair and
    horizon, and the denominator once per customer for every horizon. The same bits as evaluating each
    customer: the same operations on the same numbers.
    """
    xs, txs, Ts = _rfm(x, t_x, T)
    pairs = group_rows([xs, Ts], None)
    px, pT = pairs.columns
    denominator = _denominator(params, xs, txs, Ts)

    def at(t: float) -> FloatArray:
        if t < 0:
            raise InputError("t (the horizon) must be >= 0")
        numerator = _numerator(params, np.full(len(px), float(t)), px, pT)
        return np.asarray(numerator[pairs.inverse] / denominator, dtype=np.float64)

    return at


def expected_purchases(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)]: expected purchases of a new customer in their first ``t`` time units (FHL eq. 7).

    Counts repeat purchases only: the first purchase, at time 0, is not included.
    """
    ts = as_float_array(t, "t")
    if np.any(ts < 0):
        raise InputError("t (the horizon) must be >= 0")
    zero = np.zeros_like(ts)
    return _expected_purchases_from(params, ts, zero, zero, zero)


def conditional_expected_purchases(
    params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units after T (FHL eq. 10)."""
    xs, txs, Ts = _rfm(x, t_x, T)
    ts = as_float_array(t, "t")
    if np.any(ts < 0):
        raise InputError("t (the horizon) must be >= 0")
    if ts.size == 1 and xs.size > 1:
        # one horizon for many customers: the hypergeometric function once per distinct (x, T)
        return expected_purchases_curve(params, xs, txs, Ts)(float(ts[0]))
    ts, xs, txs, Ts = np.broadcast_arrays(ts, xs, txs, Ts)
    return _expected_purchases_from(params, ts, xs, txs, Ts)


def probability_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive | x, t_x, T) (FHL eq. 11): the probability the customer has not dropped out by T.

    It is exactly 1 for x = 0: in BG/NBD a customer can only drop out right after a repeat purchase. Use
    :func:`one_time_buyer_survival` for the shop-level view of one-time buyers.
    """
    xs, txs, Ts = _rfm(x, t_x, T)
    x_safe = np.where(xs > 0, xs, 1.0)
    log_odds = (
        np.log(params.a)
        - np.log(params.b + x_safe - 1.0)
        + (params.r + xs) * (np.log(params.alpha + Ts) - np.log(params.alpha + txs))
    )
    return np.where(xs > 0, special.expit(-log_odds), 1.0)


def one_time_buyer_survival(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """Share of new customers without a second purchase ``t`` after their first: (alpha / (alpha + t))^r.

    In BG/NBD nobody drops out before their first repeat purchase, so the waiting time to it is exponential
    with a Gamma(r, alpha) rate, i.e. Pareto type II (Lomax). This is the shop-level stand-in for P(alive) of
    a one-time buyer: it falls as they stay silent, and reaches the threshold at the shop-level winback gap.
    """
    ts = as_float_array(t, "t")
    if np.any(ts < 0):
        raise InputError("t must be >= 0")
    return np.exp(-params.r * np.log1p(ts / params.alpha))


def winback(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, threshold: float = 0.5
) -> Winback:
    """When P(alive) falls below ``threshold`` if the customer orders nothing more.

    Repeat buyers (x > 0): P(alive | x, t_x, T) falls monotonically as T grows with no new order; it equals
    the threshold at the silence (time since the last purchase)
    ``gap = (alpha + t_x) * (exp((log((1 - threshold) / threshold) + log((b + x - 1) / a)) / (r + x)) - 1)``,
    0 if P(alive) is already below it right after the last purchase.

    One-time buyers (x = 0) have P(alive) = 1 in BG/NBD, so they get the shop-level gap: the time by which a
    share 1 - threshold of the shop's new customers would have made their second purchase,
    ``gap = alpha * (threshold^(-1 / r) - 1)`` (see :func:`one_time_buyer_survival`); ``shop_level`` marks
    them.

    ``offset = max(0, t_x + gap - T)`` is the smallest d >= 0 with P(alive | x, t_x, T + d) <= threshold.
    Both are inf when the threshold is never reached within numeric range.
    """
    if not 0.0 < threshold < 1.0:
        raise InputError(f"threshold must be a probability strictly between 0 and 1, got {threshold}")
    xs, txs, Ts = _rfm(x, t_x, T)
    repeat = xs > 0
    x_safe = np.where(repeat, xs, 1.0)
    log_target = np.log1p(-threshold) - np.log(threshold)
    exponent = (log_target + np.log(params.b + x_safe - 1.0) - np.log(params.a)) / (params.r + x_safe)
    with np.errstate(over="ignore"):
        repeat_gap = (params.alpha + txs) * np.expm1(exponent)
        shop_gap = params.alpha * np.expm1(-np.log(threshold) / params.r)
    gap = np.maximum(np.where(repeat, repeat_gap, shop_gap), 0.0)
    with np.errstate(invalid="ignore"):  # inf - inf cannot occur: T is finite
        offset = np.maximum(txs + gap - Ts, 0.0)
    return Winback(gap=gap, offset=offset, shop_level=~repeat)
