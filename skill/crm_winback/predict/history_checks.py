"""The data checks every purchase model makes before it is fitted, with messages that say what to do."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from crm_winback.errors import DataError

# Customers need time to show a repeat purchase; below eight weeks of history the rate is not identified.
MIN_HISTORY_DAYS = 56.0


def check_history(
    model: str,
    x: NDArray[np.float64],
    T: NDArray[np.float64],
    weights: NDArray[np.float64],
    days_per_unit: float,
    min_repeat_buyers: int,
) -> None:
    """Raise DataError when too few customers bought twice or the history is shorter than eight weeks."""
    n_customers = float(weights.sum())
    n_repeat = float(weights[x > 0].sum())
    if n_repeat < min_repeat_buyers:
        raise DataError(
            f"only {n_repeat:.0f} of {n_customers:.0f} customers bought more than once; the {model} model "
            f"needs at least {min_repeat_buyers} repeat buyers: use a longer order history"
        )
    history_days = float(T.max()) * days_per_unit
    if history_days < MIN_HISTORY_DAYS:
        raise DataError(
            f"the order history spans only {history_days:.0f} days; the {model} model needs at least "
            f"{MIN_HISTORY_DAYS:.0f} days between the first order and the as-of date"
        )
