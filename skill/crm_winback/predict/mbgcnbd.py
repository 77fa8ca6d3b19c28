"""MBG/CNBD-k: MBG/NBD for regular buyers, with Erlang-k times between purchases.

T. Reutterer, M. Platzer & N. Schroeder (2020), "Leveraging purchase regularity for predicting customer
behavior the easy way", International Journal of Research in Marketing 38(1) (M. Platzer's BTYDplus,
``mbgcnbd.*``). While alive a customer's gaps between purchases are Erlang-k with rate lambda ~ Gamma(r, alpha)
(k = 1 is the Poisson process of MBG/NBD); after every purchase, the first included, they drop out with
probability p ~ Beta(a, b). For a regular buyer (k >= 2) a silence well past their usual cycle is strong
evidence that they are gone. The likelihood (BTYDplus ``xbgcnbd.LL`` with dropout at zero):

    log L = (k - 1) litt - x log((k - 1)!) + log B(a, b + x + 1) - log B(a, b)
            + log G(r + k x) - log G(r) + r log alpha
            + log[ (alpha + T)^-(r + k x) S + a / (b + x) (alpha + t_x)^-(r + k x) ],
    S = sum over j < k of G(r + k x + j) / (G(r + k x) j!) ((T - t_x) / (alpha + T))^j,

where litt is the sum of the logs of the customer's gaps between purchases (``RfmSummary.litt``). litt enters
only through the first term, which does not depend on the parameters, so the fit runs on the distinct
(x, t_x, T) rows and litt only decides between values of k. k is chosen by likelihood over 1..k_max as BTYDplus
does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from crm_winback.errors import DataError, InputError
from crm_winback.predict.bgnbd import MIN_REPEAT_BUYERS, _rfm
from crm_winback.predict.fitting import (
    DAYS_PER_UNIT,
    Grouped,
    TimeUnit,
    as_float_array,
    check_time_unit,
    dot,
    group_rows,
    logsumexp_rows,
    minimize_log_params,
)
from crm_winback.predict.history_checks import check_history
from crm_winback.predict.mbgnbd import expected_if_alive

FloatArray = NDArray[np.float64]
NAMES = ("r", "alpha", "a", "b")
# BTYDplus searches k = 1..12 and stops once the likelihood has fallen twice in a row.
K_MAX = 12


@dataclass(frozen=True)
class MbgCnbdParams:
    """Fitted (or given) MBG/CNBD-k parameters; alpha is in ``time_unit``, k is a whole number >= 1."""

    k: int
    r: float
    alpha: float
    a: float
    b: float
    time_unit: TimeUnit
    log_likelihood: float = float("nan")
    n_customers: int = 0
    n_distinct_rows: int = 0
    iterations: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"k": float(self.k), "r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def _log_regular_sum(
    k: int, rkx: FloatArray, silence: FloatArray, alpha_T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log S per row and d log S / d r, d log S / d alpha (S of the module docstring; silence = T - t_x)."""
    if k == 1:
        # S is its one term, 1: logsumexp of a single 0 is exactly 0 and its share exactly 1, so these zeros
        # are the numbers the general path below returns, without its (rows, 1) stacks and logsumexp
        return np.zeros_like(rkx), np.zeros_like(rkx), np.zeros_like(rkx)
    log_term = np.zeros_like(rkx)
    d_r_term = np.zeros_like(rkx)
    terms, d_r, d_alpha = [np.zeros_like(rkx)], [np.zeros_like(rkx)], [np.zeros_like(rkx)]
    with np.errstate(divide="ignore"):
        log_ratio = np.log(silence) - np.log(alpha_T)
    for j in range(1, k):
        log_term = log_term + np.log(rkx + j - 1.0) + log_ratio - np.log(j)
        d_r_term = d_r_term + 1.0 / (rkx + j - 1.0)
        terms.append(log_term)
        d_r.append(d_r_term)
        d_alpha.append(-j / alpha_T)
    stacked = np.stack(terms, axis=1)
    log_s = logsumexp_rows(stacked)
    share = np.exp(stacked - log_s[:, None])
    return log_s, (share * np.stack(d_r, axis=1)).sum(axis=1), (share * np.stack(d_alpha, axis=1)).sum(axis=1)


def _log_bracket(
    k: int, r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log of the bracket of L, its gradient in (r, alpha, a, b) (rows, 4), and P(alive at T)."""
    rkx = r + k * x
    alpha_T, alpha_tx = alpha + T, alpha + t_x
    log_s, ds_r, ds_alpha = _log_regular_sum(k, rkx, T - t_x, alpha_T)
    log_alive = -rkx * np.log(alpha_T) + log_s
    log_gone = np.log(a) - np.log(b + x) - rkx * np.log(alpha_tx)
    log_sum = np.logaddexp(log_alive, log_gone)
    alive = np.exp(log_alive - log_sum)
    gone = 1.0 - alive
    zero = np.zeros_like(x)
    grad = np.stack(
        [
            alive * (-np.log(alpha_T) + ds_r) + gone * -np.log(alpha_tx),
            alive * (-rkx / alpha_T + ds_alpha) + gone * (-rkx / alpha_tx),
            zero + gone / a,
            -gone / (b + x),
        ],
        axis=1,
    )
    return log_sum, grad, alive


class _FitData:
    def __init__(self, grouped: Grouped) -> None:
        self.x, self.t_x, self.T = grouped.columns
        self.w = grouped.weights
        self.total = float(self.w.sum())
        self.x_level = grouped.levels[0]
        self.x_weight = self.x_level.weights(self.w)

    def value_and_grad(self, k: int, theta: FloatArray) -> tuple[float, FloatArray]:
        """Weighted log-likelihood without the litt term, and its gradient in (r, alpha, a, b)."""
        r, alpha, a, b = (float(v) for v in theta)
        ux = self.x_level.values
        log_sum, grad_sum, _ = _log_bracket(k, r, alpha, a, b, self.x, self.t_x, self.T)
        per_x = (
            special.gammaln(r + k * ux)
            - special.gammaln(r)
            + special.betaln(a, b + ux + 1.0)
            - special.betaln(a, b)
            - ux * math.lgamma(k)
        )
        value = dot(self.x_weight, per_x) + self.total * r * np.log(alpha) + dot(self.w, log_sum)
        dig_ab, dig_abx = special.digamma(a + b), special.digamma(a + b + ux + 1.0)
        grad = self.w @ grad_sum + np.array(
            [
                dot(self.x_weight, special.digamma(r + k * ux) - special.digamma(r))
                + self.total * np.log(alpha),
                self.total * r / alpha,
                dot(self.x_weight, dig_ab - dig_abx),
                dot(self.x_weight, dig_ab + special.digamma(b + ux + 1.0) - special.digamma(b) - dig_abx),
            ]
        )
        return value, grad


def log_likelihood(
    params: MbgCnbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, litt: ArrayLike
) -> FloatArray:
    """Per-customer MBG/CNBD-k log-likelihood at ``params``."""
    xs, txs, Ts = _rfm(x, t_x, T)
    litts = np.broadcast_to(as_float_array(litt, "litt"), xs.shape)
    p, k = params, params.k
    log_sum, _, _ = _log_bracket(k, p.r, p.alpha, p.a, p.b, xs, txs, Ts)
    return np.asarray(
        (k - 1) * litts
        - xs * math.lgamma(k)
        + special.betaln(p.a, p.b + xs + 1.0)
        - special.betaln(p.a, p.b)
        + special.gammaln(p.r + k * xs)
        - special.gammaln(p.r)
        + p.r * np.log(p.alpha)
        + log_sum,
        dtype=np.float64,
    )


def _fit_k(data: _FitData, k: int, start: FloatArray) -> tuple[FloatArray, float, int]:
    n = data.total

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(log_params)
        ll, grad = data.value_and_grad(k, theta)
        return -ll / n, -grad / n * theta

    optimum = minimize_log_params(objective, start, NAMES, f"MBG/CNBD-{k}", allow_bound=True)
    return optimum.params, -optimum.objective * n, optimum.iterations


def fit_mbgcnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    litt: ArrayLike,
    *,
    time_unit: TimeUnit,
    k: int | None = None,
    k_max: int = K_MAX,
    weights: ArrayLike | None = None,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> MbgCnbdParams:
    """Fit MBG/CNBD-k by maximum likelihood; with ``k`` None, pick k in 1..k_max with the highest likelihood.

    As BTYDplus ``mbgcnbd.EstimateParameters``: the search stops once the likelihood has fallen for two k in a
    row, and a k whose fit fails ends the search, except that failures before any k has fitted are skipped. A parameter that runs to the optimizer's bound is returned,
    not raised: the caller names it in words.
    """
    unit = check_time_unit(time_unit)
    xs, txs, Ts = _rfm(x, t_x, T)
    litts = np.broadcast_to(as_float_array(litt, "litt"), xs.shape)
    if np.any((xs == 0) & (litts != 0)):
        raise InputError("litt must be 0 for customers with x = 0 (no gap between purchases)")
    if k is not None and (k < 1 or k != int(k)):
        raise InputError(f"k (the regularity) must be a whole number >= 1, got {k}")
    w = np.ones(len(xs)) if weights is None else as_float_array(weights, "weights")
    data = _FitData(group_rows([xs, txs, Ts], w))
    check_history("MBG/CNBD-k", data.x, data.T, data.w, DAYS_PER_UNIT[unit], min_repeat_buyers)
    litt_total = dot(w, litts)
    mean_rate = dot(data.w, data.x) / dot(data.w, data.T)
    ks = [int(k)] if k is not None else list(range(1, k_max + 1))
    best: tuple[float, int, FloatArray, int] | None = None
    history: list[float] = []
    for kk in ks:
        # r / alpha is the purchase rate per unit time divided by k: start at the NBD rate's matching value
        start = np.array([1.0, kk / mean_rate, 1.0, 1.0])
        try:
            theta, ll, iterations = _fit_k(data, kk, start)
        except DataError:
            # BTYDplus ends the search at the first k that fails; very regular buyers make k = 1 fail (the
            # Poisson rates run off), and they are the ones a higher k fits, so only a failure after a
            # successful k ends it here
            if k is not None or (best is None and kk == ks[-1]):
                raise
            if best is None:
                continue
            break
        ll += (kk - 1) * litt_total
        history.append(ll)
        if best is None or ll > best[0]:
            best = (ll, kk, theta, iterations)
        if len(history) >= 3 and history[-1] < history[-2] < history[-3]:
            break
    assert best is not None
    ll, kk, theta, iterations = best
    r, alpha, a, b = (float(v) for v in theta)
    return MbgCnbdParams(
        k=kk,
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        time_unit=unit,
        log_likelihood=ll,
        n_customers=round(data.total),
        n_distinct_rows=len(data.w),
        iterations=iterations,
    )


def probability_alive(params: MbgCnbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T): the share of the likelihood from customers still alive at T."""
    xs, txs, Ts = _rfm(x, t_x, T)
    p = params
    _, _, alive = _log_bracket(p.k, p.r, p.alpha, p.a, p.b, xs, txs, Ts)
    return np.asarray(alive, dtype=np.float64)


def conditional_expected_purchases(
    params: MbgCnbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T], exact for k = 1 and BTYDplus's approximation for k > 1.

    For k > 1 BTYDplus evaluates the MBG/NBD expression with alpha replaced by k alpha (the Erlang-k process
    has the purchase rate lambda / k) times P(alive); it then rescales the whole cohort by the ratio of
    unconditional expectations, which needs the Erlang-k count distribution and is not done here. So for k > 1
    these are the uncorrected approximation: use them for ranking customers, and the backtest's totals for
    their level.
    """
    xs, txs, Ts = _rfm(x, t_x, T)
    ts = as_float_array(t, "t")
    if np.any(ts < 0):
        raise InputError("t (the horizon) must be >= 0")
    p = params
    if_alive = expected_if_alive(p.r, p.k * p.alpha, p.a, p.b, np.broadcast_to(ts, xs.shape), xs, Ts)
    return probability_alive(p, xs, txs, Ts) * if_alive


def probability_no_purchase(
    params: MbgCnbdParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(no purchase in (T, T + t] | x, t_x, T) = L(x, t_x, T + t) / L(x, t_x, T); litt cancels."""
    if t < 0:
        raise InputError("t (the horizon) must be >= 0")
    xs, txs, Ts = _rfm(x, t_x, T)
    p = params
    later, _, _ = _log_bracket(p.k, p.r, p.alpha, p.a, p.b, xs, txs, Ts + t)
    now, _, _ = _log_bracket(p.k, p.r, p.alpha, p.a, p.b, xs, txs, Ts)
    return np.asarray(np.clip(np.exp(later - now), 0.0, 1.0), dtype=np.float64)
