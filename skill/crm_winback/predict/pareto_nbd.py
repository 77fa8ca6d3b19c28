"""Pareto/NBD: Poisson purchases while alive, an exponential lifetime (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); their lifetime is exponential with a
rate mu ~ Gamma(s, beta), so a customer can be gone before their first repeat purchase (unlike BG/NBD). The
likelihood is written as in P. S. Fader, B. G. S. Hardie & K. L. Lee (2005), "A Note on Deriving the
Pareto/NBD Model and Related Expressions" (brucehardie.com note 009), before its integral is turned into a
hypergeometric function:

    L(x, t_x, T) = G(r + x) alpha^r beta^s / G(r)
                   * [ (alpha + T)^-(r + x) (beta + T)^-s + s * I(t_x, T) ],
    I(lo, hi) = integral over tau in (lo, hi) of (alpha + tau)^-(r + x) (beta + tau)^-(s + 1).

The integral is evaluated by Gauss-Legendre quadrature in v = (r + x + s) log((alpha + tau) / (alpha + lo)), in which it is
exp(-v) times the smooth, bounded ((alpha + tau) / (beta + tau))^(s + 1): no hypergeometric function of large
parameters or near 1, and a gradient by differentiating under the integral. The same integral gives P(no purchase in
(T, T + t]) as L(x, t_x, T + t) / L(x, t_x, T).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

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
    logsumexp_rows,
    minimize_log_params,
)
from crm_winback.predict.history_checks import check_history

FloatArray = NDArray[np.float64]
NAMES = ("r", "alpha", "s", "beta")
# Gauss-Legendre nodes for the integral (see _log_integral); checked against the hypergeometric closed form
# and adaptive quadrature in the tests.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(32)
_NEWTON_STEPS = 30
_Y_MAX = 700.0


@dataclass(frozen=True)
class ParetoNbdParams:
    """Fitted (or given) Pareto/NBD parameters; alpha and beta are in ``time_unit``."""

    r: float
    alpha: float
    s: float
    beta: float
    time_unit: TimeUnit
    log_likelihood: float = float("nan")
    n_customers: int = 0
    n_distinct_rows: int = 0
    iterations: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}


def _phi(y: FloatArray, rx: FloatArray, sb: float, A: float, B: float) -> tuple[FloatArray, FloatArray]:
    """-log of the integrand at tau = exp(y) - c, and its derivative in y (A = alpha - c, B = beta - c)."""
    shape = np.broadcast_shapes(np.shape(y), np.shape(rx))
    buffers = (np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape))
    return _phi_into(y, rx, sb, A, B, buffers)


def _phi_into(
    y: FloatArray,
    rx: FloatArray,
    sb: float,
    A: float,
    B: float,
    buffers: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """``_phi`` written into ``buffers`` (e, other, phi, slope; each of the broadcast shape), which it returns.

    The Newton loop calls it a few times per likelihood evaluation on (rows, nodes) arrays: allocating fresh
    temporaries there cost more than the arithmetic. The operations are those of ``rx * y + sb * log(B + e)``
    and ``rx + sb * (e / other)`` (A = 0), or ``rx * log(A + e) + sb * y`` and ``rx * (e / other) + sb``, in
    the same order on the same operands, so the results are the same to the last bit.
    """
    e, other, phi, slope = buffers
    np.exp(y, out=e)
    if A == 0.0:  # c = alpha: log(A + e) = y
        np.add(e, B, out=other)
        np.log(other, out=phi)
        phi *= sb
        np.multiply(rx, y, out=slope)
        phi += slope
        np.divide(e, other, out=slope)
        slope *= sb
        slope += rx
        return phi, slope
    np.add(e, A, out=other)
    np.log(other, out=phi)
    phi *= rx
    np.multiply(y, sb, out=slope)
    phi += slope
    np.divide(e, other, out=slope)
    slope *= rx
    slope += sb
    return phi, slope


def _log_integral(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """log I(lo, hi) per row (-inf where lo = hi) and d log I / d(r, alpha, s, beta), shape (rows, 4).

    ``hi`` may be infinite: the integral converges, as the integrand falls like tau^-(r + x + s + 1).

    In w = -log(integrand / its value at lo) the integral is exactly the integral of exp(-w) times
    d tau / d w, a smooth factor; tau(w) is found by Newton's method in y = log(c + tau), c = min(alpha,
    beta), where -log of the integrand is increasing and convex (so Newton from above converges monotonically).
    The range of w stops where the rest of the integral is below exp(-40) of it.
    """
    rx, sb = r + x, s + 1.0
    c = min(alpha, beta)
    A, B = alpha - c, beta - c
    finite = np.isfinite(hi)
    y_lo, y_hi = np.log(c + lo), np.where(finite, np.log(c + np.where(finite, hi, lo)), np.inf)
    phi_lo, slope_lo = _phi(y_lo, rx, sb, A, B)
    phi_hi = np.where(finite, _phi(np.where(finite, y_hi, y_lo), rx, sb, A, B)[0], np.inf)
    # past both scales the integrand falls as exp(-w q / (q + 1)) in w, q = r + x + s
    y_far = np.log(c + np.clip(max(alpha, beta), lo, hi))
    phi_far, _ = _phi(y_far, rx, sb, A, B)
    q = rx + s
    end = np.minimum(phi_hi - phi_lo, phi_far - phi_lo + 40.0 * (q + 1.0) / q)
    # two panels, split where tau passes the larger of the two scales (at most at w = 30, past which only the
    # exp(-w) tail is left): the factor d tau / d w changes its behaviour there
    mid = np.minimum(np.minimum(phi_far - phi_lo, 30.0), end)
    unit, half = (1.0 + _NODES) / 2.0, _WEIGHTS / 2.0
    w = np.concatenate([mid[:, None] * unit, mid[:, None] + (end - mid)[:, None] * unit], axis=1)
    half_weights = np.concatenate([mid[:, None] * half, (end - mid)[:, None] * half], axis=1)
    # Newton from above: phi is convex in y, so its tangent at y_lo bounds the root from above
    # (and below _Y_MAX: tau beyond exp(700) carries nothing of the integral but would overflow)
    y = np.minimum(np.minimum(y_lo[:, None] + w / slope_lo[:, None], y_hi[:, None]), _Y_MAX)
    target = phi_lo[:, None] + w
    rx_col = rx[:, None]
    # in place, into buffers reused across the steps (see _phi_into): the same numbers, without the allocations
    buffers = (np.empty_like(y), np.empty_like(y), np.empty_like(y), np.empty_like(y))
    step = np.empty_like(y)
    for _ in range(_NEWTON_STEPS):
        phi, slope = _phi_into(y, rx_col, sb, A, B, buffers)
        np.subtract(phi, target, out=step)
        step /= slope
        y -= step
        np.minimum(y, _Y_MAX, out=y)
        if float(np.max(np.abs(step, out=step), initial=0.0)) < 1e-12:  # quadratic: the next step is ~1e-24
            break
    _, slope = _phi_into(y, rx_col, sb, A, B, buffers)
    e, at, log_terms, _ = buffers  # e = exp(y) at the final y; the other two are free
    # the same operations as tau = exp(y) - c, log(alpha + tau), log(beta + tau), the sum of log terms and the
    # gradient's four sums below, in the same order, but into reused buffers
    tau = e
    tau -= c
    np.add(tau, alpha, out=at)
    bt = np.add(tau, beta)
    log_at, log_bt, scratch = np.log(at), np.log(bt), step
    # integrand exp(-phi) times d tau / d w = (c + tau) / phi'(y):
    # log_terms = -(r + x) log_at - sb log_bt + y - log(slope) + log(half_weights)
    with np.errstate(divide="ignore"):
        np.multiply(-rx_col, log_at, out=log_terms)
        np.multiply(sb, log_bt, out=scratch)
        log_terms -= scratch
        log_terms += y
        np.log(slope, out=scratch)
        log_terms -= scratch
        np.log(half_weights, out=scratch)
        log_terms += scratch
        log_integral = logsumexp_rows(log_terms)
    empty = end <= 0.0
    log_integral = np.where(empty, -np.inf, log_integral)
    np.subtract(log_terms, np.where(empty, 0.0, log_integral)[:, None], out=scratch)
    share = np.exp(scratch, out=slope)
    share[empty] = 0.0
    grad = np.stack(
        [
            -np.multiply(share, log_at, out=scratch).sum(axis=1),
            -(r + x) * np.divide(share, at, out=scratch).sum(axis=1),
            -np.multiply(share, log_bt, out=scratch).sum(axis=1),
            -(s + 1.0) * np.divide(share, bt, out=scratch).sum(axis=1),
        ],
        axis=1,
    )
    return log_integral, grad


def _log_bracket(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    integral: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log of the bracket of L, its gradient (rows, 4), and the share of it from 'alive at T' (P(alive)).

    ``integral``: log I(t_x, T) and its gradient when the caller has them (the fit computes them from tails).
    """
    log_alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_i, grad_i = integral if integral is not None else _log_integral(r, alpha, s, beta, x, t_x, T)
    log_gone = np.log(s) + log_i
    log_sum = np.logaddexp(log_alive, log_gone)
    p_alive = np.exp(log_alive - log_sum)
    grad_alive = np.stack(
        [-np.log(alpha + T), -(r + x) / (alpha + T), -np.log(beta + T), -s / (beta + T)], axis=1
    )
    grad_gone = grad_i + np.array([0.0, 0.0, 1.0 / s, 0.0])
    grad = p_alive[:, None] * grad_alive + (1.0 - p_alive)[:, None] * grad_gone
    return log_sum, grad, p_alive


@cache
def _tails() -> ThreadPoolExecutor:
    """The thread the fit's second tail integral runs on (one per process, started on first use)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="pareto-nbd-tail")


class _FitData:
    """Grouped rows, and the distinct (x, t_x) and (x, T) pairs whose tail integrals make up I(t_x, T)."""

    def __init__(self, grouped: Grouped) -> None:
        self.x, self.t_x, self.T = grouped.columns
        self.w = grouped.weights
        self.total = float(self.w.sum())
        self.x_level = grouped.levels[0]
        self.x_weight = self.x_level.weights(self.w)
        # I(t_x, T) = F(t_x) - F(T), F(lo) the integral from lo to infinity: F depends on (x, lo) only, and a
        # shop has several times fewer distinct (x, t_x) and (x, T) pairs than (x, t_x, T) rows
        self.starts = group_rows([self.x, self.t_x], None)
        self.ends = group_rows([self.x, self.T], None)
        self.empty = self.t_x >= self.T

    def _integral(self, r: float, alpha: float, s: float, beta: float) -> tuple[FloatArray, FloatArray]:
        (x_lo, lo), (x_hi, hi) = self.starts.columns, self.ends.columns
        # the two tails are independent and their arithmetic runs in NumPy outside the interpreter lock: one of
        # them on a second thread (each the same numbers as alone)
        tail_hi = _tails().submit(_log_integral, r, alpha, s, beta, x_hi, hi, np.full(len(hi), np.inf))
        log_f_lo, grad_lo = _log_integral(r, alpha, s, beta, x_lo, lo, np.full(len(lo), np.inf))
        log_f_hi, grad_hi = tail_hi.result()
        log_f_lo, grad_lo = log_f_lo[self.starts.inverse], grad_lo[self.starts.inverse]
        log_f_hi, grad_hi = log_f_hi[self.ends.inverse], grad_hi[self.ends.inverse]
        ratio = np.exp(np.where(self.empty, -np.inf, log_f_hi - log_f_lo))  # F(T) / F(t_x) < 1
        with np.errstate(divide="ignore"):
            log_i = np.where(self.empty, -np.inf, log_f_lo + np.log1p(-ratio))
        grad = np.where(
            self.empty[:, None],
            0.0,
            (grad_lo - ratio[:, None] * grad_hi) / np.where(self.empty, 1.0, 1.0 - ratio)[:, None],
        )
        return log_i, grad

    def value_and_grad(self, theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, s, beta = (float(v) for v in theta)
        ux = self.x_level.values
        integral = self._integral(r, alpha, s, beta)
        log_sum, grad_sum, _ = _log_bracket(r, alpha, s, beta, self.x, self.t_x, self.T, integral)
        value = (
            dot(self.x_weight, special.gammaln(r + ux) - special.gammaln(r))
            + self.total * (r * np.log(alpha) + s * np.log(beta))
            + dot(self.w, log_sum)
        )
        grad = self.w @ grad_sum + np.array(
            [
                dot(self.x_weight, special.digamma(r + ux) - special.digamma(r)) + self.total * np.log(alpha),
                self.total * r / alpha,
                self.total * np.log(beta),
                self.total * s / beta,
            ]
        )
        return value, grad


def log_likelihood(params: ParetoNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Per-customer Pareto/NBD log-likelihood at ``params``."""
    xs, txs, Ts = _rfm(x, t_x, T)
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    log_sum, _, _ = _log_bracket(r, alpha, s, beta, xs, txs, Ts)
    return np.asarray(
        special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta) + log_sum,
        dtype=np.float64,
    )


def fit_pareto_nbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    time_unit: TimeUnit,
    weights: ArrayLike | None = None,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> ParetoNbdParams:
    """Fit Pareto/NBD by maximum likelihood on the distinct (x, t_x, T) rows.

    A parameter that runs to the optimizer's bound is returned, not raised: the caller names it in words
    (``candidates.ParetoNbdCandidate``). Raises DataError when the data are too thin (see ``check_history``).
    """
    unit = check_time_unit(time_unit)
    xs, txs, Ts = _rfm(x, t_x, T)
    data = _FitData(group_rows([xs, txs, Ts], weights))
    check_history("Pareto/NBD", data.x, data.T, data.w, DAYS_PER_UNIT[unit], min_repeat_buyers)
    n = data.total

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        theta = np.exp(log_params)
        ll, grad = data.value_and_grad(theta)
        return -ll / n, -grad / n * theta

    mean_rate = dot(data.w, data.x) / dot(data.w, data.T)
    longest = float(data.T.max())
    start = np.array([1.0, 1.0 / mean_rate, 1.0, longest])
    optimum = minimize_log_params(objective, start, NAMES, "Pareto/NBD", allow_bound=True)
    r, alpha, s, beta = (float(v) for v in optimum.params)
    return ParetoNbdParams(
        r=r,
        alpha=alpha,
        s=s,
        beta=beta,
        time_unit=unit,
        log_likelihood=-optimum.objective * n,
        n_customers=round(n),
        n_distinct_rows=len(data.w),
        iterations=optimum.iterations,
    )


def probability_alive(params: ParetoNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T): the share of the likelihood from customers still alive at T."""
    xs, txs, Ts = _rfm(x, t_x, T)
    _, _, p_alive = _log_bracket(params.r, params.alpha, params.s, params.beta, xs, txs, Ts)
    return np.asarray(p_alive, dtype=np.float64)


def _one_minus_power_over(s_minus_1: float, log_ratio: FloatArray) -> FloatArray:
    """(1 - exp(-(s - 1) * log_ratio)) / (s - 1), continuous at s = 1 (where it is log_ratio)."""
    if abs(s_minus_1) < 1e-10:
        return log_ratio
    return np.asarray(-np.expm1(-s_minus_1 * log_ratio) / s_minus_1, dtype=np.float64)


def expected_purchases(params: ParetoNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)] for a new customer: r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s - 1)] (FHL note)."""
    ts = as_float_array(t, "t")
    if np.any(ts < 0):
        raise InputError("t (the horizon) must be >= 0")
    p = params
    return p.r * p.beta / p.alpha * _one_minus_power_over(p.s - 1.0, np.log1p(ts / p.beta))


def conditional_expected_purchases(
    params: ParetoNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T] = P(alive) (r + x)(beta + T) / ((alpha + T)(s - 1)) [1 - ((beta + T)/(beta + T + t))^(s - 1)].

    The FHL note's closed form; the posterior of (lambda, mu) given alive at T is Gamma(r + x, alpha + T) times
    Gamma(s, beta + T).
    """
    xs, txs, Ts = _rfm(x, t_x, T)
    ts = as_float_array(t, "t")
    if np.any(ts < 0):
        raise InputError("t (the horizon) must be >= 0")
    p = params
    alive = probability_alive(p, xs, txs, Ts)
    scale = (p.r + xs) * (p.beta + Ts) / (p.alpha + Ts)
    return alive * scale * _one_minus_power_over(p.s - 1.0, np.log1p(ts / (p.beta + Ts)))


def probability_no_purchase(
    params: ParetoNbdParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(no purchase in (T, T + t] | x, t_x, T) = L(x, t_x, T + t) / L(x, t_x, T)."""
    if t < 0:
        raise InputError("t (the horizon) must be >= 0")
    xs, txs, Ts = _rfm(x, t_x, T)
    p = params
    later, _, _ = _log_bracket(p.r, p.alpha, p.s, p.beta, xs, txs, Ts + t)
    now, _, _ = _log_bracket(p.r, p.alpha, p.s, p.beta, xs, txs, Ts)
    return np.asarray(np.clip(np.exp(later - now), 0.0, 1.0), dtype=np.float64)
