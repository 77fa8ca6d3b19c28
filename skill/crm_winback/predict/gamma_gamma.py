"""Gamma-Gamma model of spend per order, and CLV from it and BG/NBD (Fader & Hardie, note 025).

A customer's order values are Gamma(p, nu) with a customer-specific nu ~ Gamma(q, v), so their mean order
value is p / nu and the mean of x orders, zbar, has a closed-form marginal distribution. The model is fitted
on repeat buyers only (x > 0 repeat purchases with mean value zbar > 0), as in the note, and assumes spend per
order is independent of how often a customer buys (``GammaGammaParams.frequency_spend_correlation`` lets you
check that).

Reference: P. S. Fader, B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value", note 025,
brucehardie.com/notes/025/.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from crm_winback.errors import DataError, InputError
from crm_winback.models.predictions import GammaGammaParams
from crm_winback.predict.bgnbd import BgNbdParams, expected_purchases_curve
from crm_winback.predict.fitting import (
    Grouped,
    as_float_array,
    discounted_orders,
    dot,
    group_rows,
    minimize_log_params,
)

# With fewer repeat buyers the three parameters (two of them a Gamma mixture) are not identified.
MIN_REPEAT_BUYERS = 30

FloatArray = NDArray[np.float64]


def _log_likelihood_rows(p: float, q: float, v: float, x: FloatArray, zbar: FloatArray) -> FloatArray:
    """Per-row log of the marginal density of zbar given x (note 025, eq. 5)."""
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(zbar)
        + px * np.log(x)
        - (px + q) * np.log(v + x * zbar),
        dtype=np.float64,
    )


class _FitData:
    """Grouped repeat buyers plus the parts of the likelihood that do not depend on the parameters."""

    def __init__(self, grouped: Grouped) -> None:
        self.x, self.zbar = grouped.columns
        self.w = grouped.weights
        self.total = float(self.w.sum())
        self.x_level = grouped.levels[0]
        self.x_weight = self.x_level.weights(self.w)
        self.x_zbar = self.x * self.zbar
        self.log_zbar_x = np.log(self.zbar) + np.log(self.x)
        self.w_x = self.w * self.x
        self.w_x_log = dot(self.w_x, self.log_zbar_x)
        self.w_log_zbar = dot(self.w, np.log(self.zbar))

    def value_and_grad(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Weighted log-likelihood and gradient in (p, q, v); Gamma functions once per distinct x."""
        p, q, v = (float(val) for val in theta)
        ux = self.x_level.values
        log_v_xz = np.log(v + self.x_zbar)
        per_x = special.gammaln(p * ux + q) - special.gammaln(p * ux)
        value = (
            dot(self.x_weight, per_x)
            + self.total * (q * np.log(v) - special.gammaln(q))
            + p * self.w_x_log
            - self.w_log_zbar
            - dot(self.w, (p * self.x + q) * log_v_xz)
        )
        dig_pxq = special.digamma(p * ux + q)
        grad = np.array(
            [
                dot(self.x_weight, ux * (dig_pxq - special.digamma(p * ux)))
                + self.w_x_log
                - dot(self.w_x, log_v_xz),
                dot(self.x_weight, dig_pxq)
                + self.total * (np.log(v) - special.digamma(q))
                - dot(self.w, log_v_xz),
                self.total * q / v - dot(self.w, (p * self.x + q) / (v + self.x_zbar)),
            ]
        )
        return value, grad


def _repeat_spend(x: ArrayLike, zbar: ArrayLike) -> tuple[FloatArray, FloatArray]:
    xs, zs = np.broadcast_arrays(as_float_array(x, "x"), as_float_array(zbar, "zbar"))
    if np.any(xs < 0) or np.any(xs != np.round(xs)):
        raise InputError("x (repeat purchases) must be whole numbers >= 0")
    return xs, zs


def fit_gamma_gamma(
    x: ArrayLike,
    zbar: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    penalizer_coef: float = 0.0,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> GammaGammaParams:
    """Fit Gamma-Gamma by maximum likelihood on the customers with x > 0 and zbar > 0; others are skipped.

    ``zbar`` is the mean value of a customer's repeat purchases (the first purchase excluded, as in the note).
    The penalty ``penalizer_coef * (p^2 + q^2 + v^2)`` is lifetimes' ``GammaGammaFitter`` one. Raises
    DataError with fewer than ``min_repeat_buyers`` usable customers or when there is no finite interior
    maximum.
    """
    xs, zs = _repeat_spend(x, zbar)
    if penalizer_coef < 0:
        raise InputError(f"penalizer_coef must be >= 0, got {penalizer_coef}")
    w_all = np.ones(len(xs)) if weights is None else as_float_array(weights, "weights")
    if len(w_all) != len(xs):
        raise InputError(f"weights has {len(w_all)} entries but the data has {len(xs)} rows")
    usable = (xs > 0) & (zs > 0)
    n_usable = float(w_all[usable].sum())
    if n_usable < min_repeat_buyers:
        raise DataError(
            f"only {n_usable:.0f} customers have a repeat purchase with a positive value; the Gamma-Gamma "
            f"spend model needs at least {min_repeat_buyers}: use a longer order history or include order "
            "values"
        )
    data = _FitData(group_rows([xs[usable], zs[usable]], w_all[usable]))
    gx, gz, w = data.x, data.zbar, data.w

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(log_params)
        ll, grad = data.value_and_grad(theta)
        value = -ll / n_usable + penalizer_coef * float(theta @ theta)
        d_theta = -grad / n_usable + 2.0 * penalizer_coef * theta
        return value, d_theta * theta

    # Method of moments on single orders would need order-level data; zbar's own moments give a fair start:
    # p = 1 (exponential order values) and q, v so that the mean of p v / (q - 1) matches mean zbar.
    mean_spend = dot(w, gz) / n_usable
    start = np.array([1.0, 2.0, mean_spend])
    optimum = minimize_log_params(objective, start, ("p", "q", "v"), "Gamma-Gamma")
    p, q, v = (float(val) for val in optimum.params)
    ll = _log_likelihood_rows(p, q, v, gx, gz)
    return GammaGammaParams(
        p=p,
        q=q,
        v=v,
        log_likelihood=dot(w, ll),
        n_customers=round(n_usable),
        n_excluded=round(float(w_all.sum()) - n_usable),
        frequency_spend_correlation=_weighted_correlation(gx, gz, w),
        penalizer_coef=penalizer_coef,
        iterations=optimum.iterations,
    )


def _weighted_correlation(a: FloatArray, b: FloatArray, w: FloatArray) -> float | None:
    mean_a, mean_b = (float(w @ v) / float(w.sum()) for v in (a, b))
    cov = float(w @ ((a - mean_a) * (b - mean_b)))
    var = float(w @ (a - mean_a) ** 2) * float(w @ (b - mean_b) ** 2)
    return cov / float(np.sqrt(var)) if var > 0 else None


def conditional_expected_average_spend(params: GammaGammaParams, x: ArrayLike, zbar: ArrayLike) -> FloatArray:
    """E[M | x, zbar] = p (v + x zbar) / (p x + q - 1): expected value of a customer's future orders.

    A weighted mean of the population mean p v / (q - 1) and the customer's own zbar (note 025, eq. 6). For
    x = 0 it is the population mean. NaN where p x + q <= 1: the heavy-tailed fit has no finite mean there.
    """
    xs, zs = _repeat_spend(x, zbar)
    zs = np.where(xs > 0, zs, 0.0)  # zbar means nothing without a repeat purchase
    denominator = params.p * xs + params.q - 1.0
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, params.p * (params.v + xs * zs) / safe, np.nan)


def customer_lifetime_value(
    bgnbd: BgNbdParams,
    spend: FloatArray,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    horizon: float,
    period: float,
    discount_rate: float,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted expected margin over ``horizon``: the lifetimes-style sum over periods of length ``period``.

    ``CLV = margin * spend * sum_{i=1..n} (E[Y(t_i)] - E[Y(t_{i-1})]) / (1 + discount_rate)^i`` with
    ``t_i = min(i * period, horizon)``, ``n = ceil(horizon / period)`` and E[Y(t)] the BG/NBD conditional
    expected purchases (:func:`conditional_expected_purchases`): each period's expected orders are valued at
    the expected spend per order (``spend``, usually :func:`conditional_expected_average_spend`) and
    discounted at the end of their period. ``horizon`` and ``period`` are in ``bgnbd.time_unit``;
    ``discount_rate`` is per period.
    """
    if horizon <= 0 or period <= 0:
        raise InputError(f"horizon and period must be > 0, got horizon={horizon}, period={period}")
    if discount_rate < 0:
        raise InputError(f"discount_rate must be >= 0, got {discount_rate}")
    xs, txs, Ts = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (x, t_x, T))
    xs, txs, Ts = np.broadcast_arrays(xs, txs, Ts)
    # the discounted orders depend on (x, t_x, T) only: compute them once per distinct customer summary
    distinct = group_rows([xs, txs, Ts], None)
    dx, dtx, dT = distinct.columns
    total = discounted_orders(
        expected_purchases_curve(bgnbd, dx, dtx, dT),  # the horizon-free work once for every period
        horizon=horizon,
        period=period,
        discount_rate=discount_rate,
    )
    return np.asarray(
        margin * np.asarray(spend, dtype=np.float64) * total[distinct.inverse], dtype=np.float64
    )
