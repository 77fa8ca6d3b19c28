"""Predict who is still a customer: BG/NBD for purchases and drop-out, Gamma-Gamma for spend, and CLV."""

from crm_winback.predict.bgnbd import (
    BgNbdParams,
    Winback,
    conditional_expected_purchases,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    one_time_buyer_survival,
    probability_alive,
    winback,
)
from crm_winback.predict.gamma_gamma import (
    GammaGammaParams,
    conditional_expected_average_spend,
    customer_lifetime_value,
    fit_gamma_gamma,
)

__all__ = [
    "BgNbdParams",
    "GammaGammaParams",
    "Winback",
    "conditional_expected_average_spend",
    "conditional_expected_purchases",
    "customer_lifetime_value",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "log_likelihood",
    "one_time_buyer_survival",
    "probability_alive",
    "winback",
]
