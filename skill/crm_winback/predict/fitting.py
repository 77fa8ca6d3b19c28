"""Maximum-likelihood machinery shared by the BG/NBD and Gamma-Gamma fits.

Both models are fitted on log-parameters (so every parameter stays positive without constraints the optimizer
has to respect) over rows grouped into distinct values with integer weights: a shop with millions of customers
has far fewer distinct (x, t_x, T) rows, and the likelihood only has to be evaluated once per distinct row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from crm_winback.errors import DataError, InputError
from crm_winback.models.predictions import TimeUnit

DAYS_PER_UNIT: dict[str, float] = {"days": 1.0, "weeks": 7.0}

# A log-parameter at +-LOG_BOUND (a parameter above 4.8e8 or below 2e-9) means the data cannot pin it down:
# the optimizer ran off towards a degenerate limit of the model rather than to an interior maximum.
LOG_BOUND = 20.0
# With allow_bound, a fit whose parameter is past half its bound stops once a step improves the likelihood by
# less than this share of it (see minimize_log_params): it is running off along a flat ridge.
RUNAWAY_FLAT = 1e-9

Objective = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]


@dataclass(frozen=True)
class Level:
    """A column's distinct values, and for each grouped row the index of its value among them."""

    values: NDArray[np.float64]
    index: NDArray[np.intp]

    def weights(self, row_weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """Total weight of the rows at each distinct value."""
        return np.bincount(self.index, weights=row_weights, minlength=len(self.values)).astype(np.float64)


@dataclass(frozen=True)
class Grouped:
    """Distinct rows (one array per column), how many input rows each stands for, and each column's levels.

    A column has far fewer distinct values than the table has distinct rows (x takes a few dozen values, T
    and t_x a few hundred days), so a term that depends on one column is computed once per level and
    gathered with ``levels[i].index``: that is what makes a likelihood evaluation cheap.
    """

    columns: tuple[NDArray[np.float64], ...]
    weights: NDArray[np.float64]
    levels: tuple[Level, ...]
    inverse: NDArray[np.intp]  # for each input row, its grouped row (-1 for rows of weight 0)

    def in_units(self, scales: Sequence[float]) -> Grouped:
        """The same grouping with column i's values divided by ``scales[i]`` (whole days grouped, then in weeks:
        the order and the counts do not change, and the values are the same floats as dividing each row)."""
        levels = tuple(
            Level(np.asarray(level.values, dtype=np.float64) / scale, level.index)
            for level, scale in zip(self.levels, scales, strict=True)
        )
        return Grouped(
            tuple(level.values[level.index] for level in levels), self.weights, levels, self.inverse
        )


@dataclass(frozen=True)
class Optimum:
    """Where the optimizer stopped, on the natural (not log) scale."""

    params: NDArray[np.float64]
    objective: float
    converged: bool
    iterations: int
    message: str


def as_float_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``values`` as a 1-D float array, or raise InputError naming the argument."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} contains NaN or infinite values; drop or fix those customers first")
    return array


def dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Sum of a * b. Not ``a @ b``: a multi-threaded BLAS on a busy machine makes 1-D products many times
    slower than this, and the fits do dozens of them per likelihood evaluation."""
    return float(np.sum(a * b))


def logsumexp_rows(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``scipy.special.logsumexp(a, axis=1)`` for a 2-D float array: the same steps on the same numbers.

    scipy's general version (array API, weights, signs) costs several times the arithmetic on the (rows, terms)
    arrays the likelihoods reduce dozens of times per fit, and computes exp(a) a second time for the rows whose
    result is not finite; this one does that only for those rows. ``tests/test_predict_candidates.py`` checks
    that both give identical bits (ties, -inf rows, NaN).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a_max = np.max(a, axis=1, keepdims=True)
        mask = a == a_max
        # the maximum is left out of the sum (for precision) and counted in m
        shifted = np.where(mask, -np.inf, a)
        m = np.sum(mask.astype(np.float64), axis=1, keepdims=True, dtype=np.float64)
        shifted -= a_max
        np.exp(shifted, out=shifted)
        s = np.sum(shifted, axis=1, keepdims=True, dtype=np.float64)
        s = np.where(s == 0, s, s / m)
        sign = np.sign(s + 1) * np.sign(m)
        s = np.where(s < -1, -s - 2, s)
        out = np.log1p(s) + np.log(np.abs(m)) + a_max
        out[sign < 0] = np.nan
        bad = ~np.isfinite(out[:, 0])
        if bad.any():  # an infinite or NaN result: scipy's direct log(sum(exp(a))) for those rows
            out[bad] = np.log(np.sum(np.exp(a[bad]), axis=1, keepdims=True))
    return np.asarray(out[:, 0], dtype=np.float64)


def discounted_orders(
    expected_at: Callable[[float], NDArray[np.float64]],
    *,
    horizon: float,
    period: float,
    discount_rate: float,
    quiet: bool = False,
) -> NDArray[np.float64]:
    """The lifetimes-style discounted expected orders: sum over the periods i = 1..ceil(horizon / period) of
    (E[Y(t_i)] - E[Y(t_(i-1))]) / (1 + discount_rate)^i, t_i = min(i * period, horizon), from ``expected_at(t)``.

    The periods' expectations are independent and their arithmetic runs outside the interpreter lock: they are
    computed as many at a time as the machine has cores, then summed in period order (the same bits as one
    after another). ``quiet``: ignore floating-point warnings inside ``expected_at`` (the caller checks the
    result), as the caller's own ``np.errstate`` would; it does not reach the pool's threads.
    """
    n_periods = int(np.ceil(horizon / period - 1e-12))

    def at(i: int) -> NDArray[np.float64]:
        if not quiet:
            return expected_at(min(i * period, horizon))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return expected_at(min(i * period, horizon))

    total: NDArray[np.float64] | float = 0.0
    previous: NDArray[np.float64] | float = 0.0
    cores = max(1, min(n_periods, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=cores) as pool:
        for start in range(1, n_periods + 1, cores):  # a few at a time: each is an array per customer row
            periods = range(start, min(start + cores, n_periods + 1))
            for i, expected in zip(periods, pool.map(at, periods), strict=True):
                total = total + (expected - previous) / (1.0 + discount_rate) ** i
                previous = expected
    return np.asarray(total, dtype=np.float64)


def check_time_unit(time_unit: str) -> TimeUnit:
    """Return ``time_unit`` if it is 'days' or 'weeks', else raise InputError."""
    if time_unit == "days":
        return "days"
    if time_unit == "weeks":
        return "weeks"
    raise InputError(f"time_unit must be 'days' or 'weeks', got {time_unit!r}")


def _factorize(values: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Sorted distinct values and each value's index among them: np.unique(return_inverse=True), but
    through a plain sort and a binary search, several times faster than its argsort when the values are
    few (a column of day counts); whole numbers in a dense range (day counts as integers) through a lookup
    table, without a sort."""
    if values.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 1 << 22:
            shifted = values - lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[shifted] = True
            code_of = np.cumsum(present, dtype=np.int64) - 1
            return np.flatnonzero(present) + lo, code_of[shifted]
    ordered = np.sort(values)
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    distinct = ordered[first]
    return distinct, np.searchsorted(distinct, values).astype(np.int64, copy=False)


def _unique_inverse(key: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """np.unique(key, return_inverse=True) for an int64 array: the same sorted distinct keys and inverse, from
    one unstable argsort (the equal keys' order does not matter) and a scatter, about 1.3x faster on the
    2.3M customers of the 10M-line bench file."""
    order = np.argsort(key)
    ordered = key[order]
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def group_rows(columns: Sequence[NDArray[Any]], weights: ArrayLike | None) -> Grouped:
    """Collapse identical rows across ``columns`` into distinct rows with summed weights (integer columns keep
    their type: see :meth:`Grouped.in_units`)."""
    n = len(columns[0])
    w = np.ones(n) if weights is None else as_float_array(weights, "weights")
    if len(w) != n:
        raise InputError(f"weights has {len(w)} entries but the data has {n} rows; pass one weight per row")
    if np.any(w < 0):
        raise InputError("weights must be >= 0 (they count customers)")
    # Factorize each column, then combine the integer codes into one key: sorting one int64 array is much
    # faster than np.unique(axis=0) on a float matrix.
    values, codes = [], []
    for column in columns:
        distinct, code = _factorize(column)
        values.append(distinct)
        codes.append(code)
    sizes = [len(v) for v in values]
    if float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0**62:
        key = codes[0]
        for size, code in zip(sizes[1:], codes[1:], strict=True):
            key = key * size + code
        # many distinct keys: one argsort beats a binary search per row here
        distinct_keys, inverse = _unique_inverse(key)
        row_codes = []
        remainder = distinct_keys
        for size in reversed(sizes[1:]):
            row_codes.append(remainder % size)
            remainder = remainder // size
        row_codes.append(remainder)
        row_codes.reverse()
    else:  # too many distinct values to pack into one int64 key
        distinct_rows, inverse = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
        row_codes = [distinct_rows[:, i] for i in range(len(columns))]
    summed = np.bincount(inverse.ravel(), weights=w, minlength=len(row_codes[0])).astype(np.float64)
    inverse = inverse.ravel()
    if (
        weights is not None
    ):  # rows of weight 0 can make distinct rows of weight 0: drop them, renumber the rest
        keep = summed > 0
        row_codes, summed = [c[keep] for c in row_codes], summed[keep]
        inverse = np.where(keep, np.cumsum(keep) - 1, -1)[inverse]
    levels = tuple(Level(v, c.astype(np.intp, copy=False)) for v, c in zip(values, row_codes, strict=True))
    return Grouped(
        tuple(level.values[level.index] for level in levels),
        summed,
        levels,
        inverse.astype(np.intp, copy=False),
    )


def minimize_log_params(
    objective: Objective,
    start: NDArray[np.float64],
    names: Sequence[str],
    model: str,
    *,
    allow_bound: bool = False,
) -> Optimum:
    """Minimize ``objective`` over log-parameters with L-BFGS-B; raise DataError when no interior optimum.

    ``objective`` maps log-parameters to (value, gradient in the log-parameters). ``names`` label the
    parameters in error messages. With ``allow_bound`` a parameter that ran to its bound, or past half of it
    when the optimizer stopped short of converging, is returned instead of raising, for callers that name the
    runaway in words (``candidates.runaway_words``); such a fit stops as soon as it is past half its bound and
    flat (RUNAWAY_FLAT), since the rest of the way changes no word shown.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    x0 = np.clip(np.log(start), -LOG_BOUND + 1, LOG_BOUND - 1)
    last: list[float] = []

    def settled_off(intermediate_result: optimize.OptimizeResult) -> None:
        # a runaway the caller names in words: once a parameter is past half its bound (where the caller calls
        # it run off) and the likelihood has stopped improving (under RUNAWAY_FLAT of itself per step), the rest
        # of the way to the bound changes nothing that is shown
        fun = float(intermediate_result.fun)
        flat = bool(last) and last[-1] - fun <= RUNAWAY_FLAT * abs(fun)
        last.append(fun)
        if flat and bool(np.any(np.abs(intermediate_result.x) >= LOG_BOUND / 2)):
            raise StopIteration

    with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
        try:
            result = optimize.minimize(
                objective,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-9},
                callback=settled_off if allow_bound else None,
            )
        except FloatingPointError as exc:
            raise DataError(
                f"{model} fit failed: the likelihood became non-finite ({exc}); the data cannot support this "
                "model (check for a very short history or almost no repeat buyers), or set a small "
                "penalizer_coef such as 0.001"
            ) from exc
    if not np.isfinite(result.fun) or not np.all(np.isfinite(result.x)):
        raise DataError(
            f"{model} fit failed: the likelihood is not finite at the optimum; set a small penalizer_coef "
            "such as 0.001"
        )
    at_bound = np.flatnonzero(np.abs(result.x) >= LOG_BOUND - 1e-6)
    if len(at_bound) and not allow_bound:
        i = int(at_bound[0])
        direction = "infinity" if result.x[i] > 0 else "zero"
        raise DataError(
            f"{model} fit failed: parameter {names[i]} ran off towards {direction}, so the data cannot "
            "identify the model (too few repeat buyers, too short a history, or no sign of customers "
            "dropping out); a small penalizer_coef such as 0.001 stops parameters running to infinity, "
            "otherwise use the heuristic churn score"
        )
    # L-BFGS-B reports 'ABNORMAL' line searches when it is already at the optimum to machine precision; a
    # small projected gradient is what matters.
    jac = np.asarray(result.jac) if result.jac is not None else np.full(len(start), np.inf)
    interior = np.abs(result.x) < LOG_BOUND - 1e-6  # at a bound the gradient points outwards, by design
    grad_norm = float(np.max(np.abs(jac[interior]), initial=0.0))
    converged = bool(result.success) or grad_norm < 1e-5
    # a fit still running off along a flat ridge (say r and alpha growing together) stops short of both
    # convergence and the bound; with allow_bound the caller names that runaway in words
    running_off = allow_bound and bool(np.any(np.abs(result.x) >= LOG_BOUND / 2))
    if not converged and not running_off:
        raise DataError(
            f"{model} fit did not converge ({result.message}); set a small penalizer_coef such as 0.001"
        )
    return Optimum(
        params=np.exp(result.x),
        objective=float(result.fun),
        converged=converged,
        iterations=int(result.nit),
        message=str(result.message),
    )
