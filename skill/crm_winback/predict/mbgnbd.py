"""MBG/NBD: BG/NBD in which a customer can also drop out right after their first purchase.

E. P. Batislam, M. Denizel & A. Filiztekin (2007), "Empirical validation and comparison of models for customer
base analysis", International Journal of Research in Marketing 24(3), 201-209 (also Hoppe & Wagner 2007). While
alive a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after every purchase, the first included, they
drop out with probability p ~ Beta(a, b). So a one-time buyer who stays silent becomes ever more likely to be
gone, where BG/NBD calls them certainly alive. The likelihood:

    L = B(a, b + x + 1) / B(a, b) * G(r + x) alpha^r / G(r)
        * [ (alpha + T)^-(r + x) + a / (b + x) (alpha + t_x)^-(r + x) ].

It is the k = 1 member of the MBG/CNBD-k family (``mbgcnbd``); this module is its closed form, fitted on the
distinct (x, t_x, T) rows like ``bgnbd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from crm_winback.errors import InputError
from crm_winback.predict.bgnbd import MIN_REPEAT_BUYERS, _rfm
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
from crm_winback.predict.history_checks import check_history

FloatArray = NDArray[np.float64]
NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class MbgNbdParams:
    """Fitted (or given) MBG/NBD parameters; alpha is in ``time_unit``."""

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
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def _log_odds_gone(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """log of (dropped out right after the last purchase) / (alive at T), per row."""
    return np.asarray(
        np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)), dtype=np.float64
    )


class _FitData:
    def __init__(self, grouped: Grouped) -> None:
        self.x, self.t_x, self.T = grouped.columns
        self.w = grouped.weights
        self.total = float(self.w.sum())
        self.x_level = grouped.levels[0]
        self.x_weight = self.x_level.weights(self.w)

    def value_and_grad(self, theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = (float(v) for v in theta)
        ux, x = self.x_level.values, self.x
        log_at, log_atx = np.log(alpha + self.T), np.log(alpha + self.t_x)
        log_ratio = _log_odds_gone(r, alpha, a, b, x, self.t_x, self.T)
        gone = special.expit(log_ratio)  # share of the likelihood from "dropped out after the last purchase"
        alive = 1.0 - gone
        per_x = (
            special.gammaln(r + ux)
            - special.gammaln(r)
            + special.betaln(a, b + ux + 1.0)
            - special.betaln(a, b)
        )
        log_sum = -(r + x) * log_at + np.logaddexp(0.0, log_ratio)
        value = dot(self.x_weight, per_x) + self.total * r * np.log(alpha) + dot(self.w, log_sum)
        dig_ab, dig_abx = special.digamma(a + b), special.digamma(a + b + ux + 1.0)
        grad = np.array(
            [
                dot(self.x_weight, special.digamma(r + ux) - special.digamma(r))
                + self.total * np.log(alpha)
                - dot(self.w, alive * log_at + gone * log_atx),
                self.total * r / alpha
                - dot(self.w * (r + x), alive / (alpha + self.T) + gone / (alpha + self.t_x)),
                dot(self.x_weight, dig_ab - dig_abx) + dot(self.w, gone) / a,
                dot(self.x_weight, dig_ab + special.digamma(b + ux + 1.0) - special.digamma(b) - dig_abx)
                - dot(self.w * gone, 1.0 / (b + x)),
            ]
        )
        return value, grad


def log_likelihood(params: MbgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Per-customer MBG/NBD log-likelihood at ``params``."""
    xs, txs, Ts = _rfm(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    return np.asarray(
        special.gammaln(r + xs)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + xs + 1.0)
        - special.betaln(a, b)
        - (r + xs) * np.log(alpha + Ts)
        + np.logaddexp(0.0, _log_odds_gone(r, alpha, a, b, xs, txs, Ts)),
        dtype=np.float64,
    )


def fit_mbgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    time_unit: TimeUnit,
    weights: ArrayLike | None = None,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> MbgNbdParams:
    """Fit MBG/NBD by maximum likelihood on the distinct (x, t_x, T) rows.

    A parameter that runs to the optimizer's bound is returned, not raised: the caller names it in words.
    """
    unit = check_time_unit(time_unit)
    xs, txs, Ts = _rfm(x, t_x, T)
    data = _FitData(group_rows([xs, txs, Ts], weights))
    check_history("MBG/NBD", data.x, data.T, data.w, DAYS_PER_UNIT[unit], min_repeat_buyers)
    n = data.total

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(log_params)
        ll, grad = data.value_and_grad(theta)
        return -ll / n, -grad / n * theta

    mean_rate = dot(data.w, data.x) / dot(data.w, data.T)
    start = np.array([1.0, 1.0 / mean_rate, 1.0, 1.0])
    optimum = minimize_log_params(objective, start, NAMES, "MBG/NBD", allow_bound=True)
    r, alpha, a, b = (float(v) for v in optimum.params)
    return MbgNbdParams(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        time_unit=unit,
        log_likelihood=-optimum.objective * n,
        n_customers=round(n),
        n_distinct_rows=len(data.w),
        iterations=optimum.iterations,
    )


def probability_alive(params: MbgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x)); < 1 at x = 0."""
    xs, txs, Ts = _rfm(x, t_x, T)
    p = params
    return np.asarray(special.expit(-_log_odds_gone(p.r, p.alpha, p.a, p.b, xs, txs, Ts)), dtype=np.float64)


def expected_if_alive(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[purchases in (T, T + t] | alive at T]: (a + b + x) / (a - 1) [1 - (1 - z)^(r + x) 2F1(r + x, b + x + 1;
    a + b + x; z)], z = t / (alpha + T + t) (Batislam et al. 2007; BTYDplus ``mbgcnbd`` with k = 1).

    Euler's transformation turns (1 - z)^(r + x) 2F1(...) into (1 - z)^(a - 1) 2F1(a + b - r, a - 1; a + b + x;
    z), whose parameters do not grow with x (as in ``bgnbd``). a = 1 is a removable singularity: it is
    evaluated at a nudged by 1e-7 there.
    """
    a = a if abs(a - 1.0) > 1e-7 else 1.0 + 1e-7
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(a + b - r, a - 1.0, a + b + x, z)
    with np.errstate(divide="ignore"):
        log1m = np.log1p(-z)
        head = -np.expm1((a - 1.0) * log1m) - np.exp((a - 1.0) * log1m) * (hyp - 1.0)
    return np.asarray((a + b + x) / (a - 1.0) * head, dtype=np.float64)


def conditional_expected_purchases(
    params: MbgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units after T."""
    xs, txs, Ts = _rfm(x, t_x, T)
    ts = as_float_array(t, "t")
    if np.any(ts < 0):
        raise InputError("t (the horizon) must be >= 0")
    p = params
    if_alive = expected_if_alive(p.r, p.alpha, p.a, p.b, np.broadcast_to(ts, xs.shape), xs, Ts)
    return probability_alive(p, xs, txs, Ts) * if_alive


def probability_no_purchase(
    params: MbgNbdParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(no purchase in (T, T + t] | x, t_x, T) = L(x, t_x, T + t) / L(x, t_x, T)."""
    if t < 0:
        raise InputError("t (the horizon) must be >= 0")
    xs, txs, Ts = _rfm(x, t_x, T)
    ratio = np.exp(log_likelihood(params, xs, txs, Ts + t) - log_likelihood(params, xs, txs, Ts))
    return np.asarray(np.clip(ratio, 0.0, 1.0), dtype=np.float64)
