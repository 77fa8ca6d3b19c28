"""The purchase models the backtest chooses between, behind one interface.

Each candidate fits on a :class:`History` (one row per customer, or distinct rows with weights) and returns a
:class:`Fitted` model that answers the three questions the product asks of it: expected orders in a horizon,
the probability the customer is still active, and the probability of no order within a horizon (the churn
measure the backtest ranks customers by). A fit whose parameters run off towards a degenerate limit of its model
is returned with ``runaway`` set to a sentence in words; callers never print its raw parameters.

Times are in the unit of the history (``History.time_unit``), as in the model modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from crm_winback.errors import DataError
from crm_winback.models.predictions import BgNbdParams, TimeUnit
from crm_winback.predict import bgnbd, mbgcnbd, mbgnbd, pareto_nbd
from crm_winback.predict.fitting import LOG_BOUND

FloatArray = NDArray[np.float64]
# A parameter within this factor of the optimizer's bound (exp(+-LOG_BOUND)) has run off: the likelihood is flat
# towards a limit of the model. Far below 4.85e8, so a runaway is caught long before it reaches the bound.
RUNAWAY_LOG = LOG_BOUND / 2.0


@dataclass(frozen=True)
class History:
    """Per-customer (x, t_x, T) and, for the regularity-aware models, the sum of log inter-purchase times.

    x: repeat purchase days after the first; t_x: first to last purchase day; T: first purchase day to the end
    of the calibration period; litt: sum over the customer's x gaps of log(gap) (0 for x = 0), or None when
    not computed. ``weights`` (optional) is how many customers each row stands for.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    time_unit: TimeUnit
    litt: FloatArray | None = None
    weights: FloatArray | None = None


class Fitted(Protocol):
    """A fitted model: its name, parameters (for the record, never for the operator's eyes) and predictions."""

    @property
    def name(self) -> str: ...
    @property
    def params(self) -> Mapping[str, float]: ...
    @property
    def log_likelihood(self) -> float: ...
    @property
    def runaway(self) -> str | None: ...

    def expected_orders(self, horizon: float, h: History) -> FloatArray:
        """E[orders in (T, T + horizon] | history], per customer."""
        ...

    def expected_orders_curve(self, h: History) -> Callable[[float], FloatArray]:
        """``horizon -> expected_orders(horizon, h)``, for many horizons over the same customers (CLV's periods):
        whatever does not depend on the horizon is computed once."""
        ...

    def p_active(self, h: History) -> FloatArray:
        """P(the customer has not dropped out by T | history), per customer."""
        ...

    def p_no_order(self, horizon: float, h: History) -> FloatArray:
        """P(no order in (T, T + horizon] | history), per customer: the churn measure."""
        ...


class Candidate(Protocol):
    @property
    def name(self) -> str: ...

    def fit(self, h: History) -> Fitted:
        """Fit on ``h``; raise crm_winback.errors.DataError when the data cannot support the model."""
        ...


def runaway_words(model: str, params: Mapping[str, float], limits: Mapping[str, str]) -> str | None:
    """A sentence saying which limit the fit ran towards, or None when every parameter is interior.

    ``limits`` maps a parameter name to the words for "this parameter ran off", e.g.
    ``{"b": "the data show no sign that customers stop buying"}``.
    """
    for name, words in limits.items():
        value = params[name]
        if not np.isfinite(value) or abs(np.log(value)) >= RUNAWAY_LOG:
            return f"{model}: {words}; the fit is degenerate and is not used"
    return None


@dataclass(frozen=True)
class BgNbdFitted:
    """BG/NBD (Fader, Hardie & Lee 2005) behind the common interface."""

    fitted: BgNbdParams
    name: str = "BG/NBD"
    runaway: str | None = None
    params: Mapping[str, float] = field(default_factory=dict)

    @property
    def log_likelihood(self) -> float:
        return float(self.fitted.log_likelihood or float("nan"))

    def expected_orders(self, horizon: float, h: History) -> FloatArray:
        with np.errstate(invalid="ignore", over="ignore"):
            return bgnbd.conditional_expected_purchases(self.fitted, horizon, h.x, h.t_x, h.T)

    def expected_orders_curve(self, h: History) -> Callable[[float], FloatArray]:
        curve = bgnbd.expected_purchases_curve(self.fitted, h.x, h.t_x, h.T)

        def at(horizon: float) -> FloatArray:
            with np.errstate(invalid="ignore", over="ignore"):
                return curve(horizon)

        return at

    def p_active(self, h: History) -> FloatArray:
        return bgnbd.probability_alive(self.fitted, h.x, h.t_x, h.T)

    def p_no_order(self, horizon: float, h: History) -> FloatArray:
        # Alive at T, no purchase in (T, T + t] has probability ((alpha + T) / (alpha + T + t))^(r + x) (a
        # Poisson count with a Gamma(r + x, alpha + T) posterior rate; no purchase means no chance to drop out).
        p = self.fitted
        silent = np.exp((p.r + h.x) * (np.log(p.alpha + h.T) - np.log(p.alpha + h.T + horizon)))
        alive = self.p_active(h)
        return np.asarray(1.0 - alive + alive * silent, dtype=np.float64)


# What each BG/NBD parameter running off means, in words.
BGNBD_LIMITS = {
    "a": "the data show no sign that customers stop buying",
    "b": "the data show no sign that customers stop buying",
    "r": "the data cannot tell how purchase rates differ between customers",
}


class BgNbdCandidate:
    name = "BG/NBD"

    def fit(self, h: History) -> BgNbdFitted:
        params = bgnbd.fit_bgnbd(h.x, h.t_x, h.T, time_unit=h.time_unit, weights=h.weights)
        values = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b}
        words = runaway_words(self.name, values, BGNBD_LIMITS)
        return BgNbdFitted(fitted=params, runaway=words, params=values)


NO_DROPOUT = "the data show no sign that customers stop buying"
RATES_UNKNOWN = "the data cannot tell how purchase rates differ between customers"
SAME_DROPOUT = "the data cannot tell customers apart in how likely they are to stop buying"
SAME_RATES = "the data cannot tell customers apart in how often they buy"


def _limits(
    params: Mapping[str, float], pairs: Mapping[tuple[str, str], str], single: Mapping[str, str]
) -> dict[str, str]:
    """``single`` words for each parameter, except that a pair of parameters growing together (one ran off and
    the other is large too: the mixing distribution narrows to one value for every customer) gets the pair's
    words."""
    limits = dict(single)
    for (first, second), words in pairs.items():
        both_large = min(params[first], params[second]) >= np.exp(RUNAWAY_LOG / 2)
        if both_large and max(params[first], params[second]) >= np.exp(RUNAWAY_LOG):
            limits[first] = limits[second] = words
    return limits


@dataclass(frozen=True)
class ModuleFitted:
    """A fit of one of the model modules (pareto_nbd, mbgnbd, mbgcnbd) behind the common interface.

    Each module gives ``conditional_expected_purchases``, ``probability_alive`` and ``probability_no_purchase``
    with the same arguments; for MBG/CNBD-k with k > 1 the expected orders are BTYDplus's approximation (see
    ``mbgcnbd.conditional_expected_purchases``), P(active) and P(no order) are exact.
    """

    fitted: Any  # the module's params model: ParetoNbdParams, MbgNbdParams or MbgCnbdParams
    module: ModuleType
    name: str
    runaway: str | None = None
    params: Mapping[str, float] = field(default_factory=dict)

    @property
    def log_likelihood(self) -> float:
        return float(self.fitted.log_likelihood)

    def expected_orders(self, horizon: float, h: History) -> FloatArray:
        with np.errstate(invalid="ignore", over="ignore"):
            return np.asarray(
                self.module.conditional_expected_purchases(self.fitted, horizon, h.x, h.t_x, h.T)
            )

    def expected_orders_curve(self, h: History) -> Callable[[float], FloatArray]:
        return lambda horizon: self.expected_orders(horizon, h)

    def p_active(self, h: History) -> FloatArray:
        return np.asarray(self.module.probability_alive(self.fitted, h.x, h.t_x, h.T))

    def p_no_order(self, horizon: float, h: History) -> FloatArray:
        return np.asarray(self.module.probability_no_purchase(self.fitted, horizon, h.x, h.t_x, h.T))


class ParetoNbdCandidate:
    name = "Pareto/NBD"

    def fit(self, h: History) -> ModuleFitted:
        params = pareto_nbd.fit_pareto_nbd(h.x, h.t_x, h.T, time_unit=h.time_unit, weights=h.weights)
        values = params.as_dict()
        limits = _limits(
            values,
            {("s", "beta"): SAME_DROPOUT, ("r", "alpha"): SAME_RATES},
            {"beta": NO_DROPOUT, "s": NO_DROPOUT, "r": RATES_UNKNOWN, "alpha": RATES_UNKNOWN},
        )
        words = runaway_words(self.name, values, limits)
        return ModuleFitted(params, pareto_nbd, self.name, words, values)


def _beta_geometric_limits(values: Mapping[str, float]) -> dict[str, str]:
    return _limits(
        values,
        {("a", "b"): SAME_DROPOUT, ("r", "alpha"): SAME_RATES},
        {"a": NO_DROPOUT, "b": NO_DROPOUT, "r": RATES_UNKNOWN},
    )


class MbgNbdCandidate:
    name = "MBG/NBD"

    def fit(self, h: History) -> ModuleFitted:
        params = mbgnbd.fit_mbgnbd(h.x, h.t_x, h.T, time_unit=h.time_unit, weights=h.weights)
        values = params.as_dict()
        words = runaway_words(self.name, values, _beta_geometric_limits(values))
        return ModuleFitted(params, mbgnbd, self.name, words, values)


class MbgCnbdCandidate:
    """MBG/CNBD-k with k chosen by likelihood over 1..k_max; needs ``History.litt``."""

    name = "MBG/CNBD-k"

    def __init__(self, k: int | None = None, k_max: int = mbgcnbd.K_MAX) -> None:
        self.k = k
        self.k_max = k_max

    def fit(self, h: History) -> ModuleFitted:
        if h.litt is None:
            raise DataError(
                "the MBG/CNBD-k model needs each customer's sum of log gaps between purchases (History.litt); "
                "build the History from predict.summary.RfmSummary.litt"
            )
        params = mbgcnbd.fit_mbgcnbd(
            h.x, h.t_x, h.T, h.litt, time_unit=h.time_unit, k=self.k, k_max=self.k_max, weights=h.weights
        )
        values = params.as_dict()
        words = runaway_words(self.name, values, _beta_geometric_limits(values))
        return ModuleFitted(params, mbgcnbd, self.name, words, values)


CANDIDATES: tuple[Candidate, ...] = (
    BgNbdCandidate(),
    ParetoNbdCandidate(),
    MbgNbdCandidate(),
    MbgCnbdCandidate(),
)
