"""R, F and M scores 1-5, by fixed thresholds or by quintiles.

Quintile tie policy: cut point k (k = 1..4) is the smallest value with at least k x 20% of customers at or
below it (``quantile_disc``, an actual value of the data). F and M are 1 + the number of cut points the value is
strictly above; R is 5 - the number of cut points the days since the last order are strictly above. So equal
values always share a score, row order never matters, the most recent customers always get R 5 and the lowest
frequency or spend always gets 1; when many customers share a value some scores stay empty - which the output
reports.

By either method F 1 means exactly one order: a repeat customer scores F 2 at least (:func:`frequency_score_sql`).
"""

from __future__ import annotations

from itertools import pairwise

from pydantic import Field, model_validator

from ..errors import KnowledgeError
from ..knowledge import KnowledgeModel, load_knowledge, load_model_file


class Bin(KnowledgeModel):
    score: int = Field(ge=1, le=5)
    from_: float = Field(alias="from", ge=0)
    to: float | None

    model_config = KnowledgeModel.model_config | {"populate_by_name": True}


def _check_bins(name: str, bins: list[Bin]) -> None:
    ordered = sorted(bins, key=lambda b: b.from_)
    if sorted(b.score for b in bins) != [1, 2, 3, 4, 5]:
        raise ValueError(f"{name}: needs exactly one bin for each score 1-5")
    if ordered[0].from_ != 0:
        raise ValueError(f"{name}: the first bin must start at 0 (it starts at {ordered[0].from_:g})")
    for lower, upper in pairwise(ordered):
        if lower.to is None or lower.to != upper.from_:
            end = "no end" if lower.to is None else f"{lower.to:g}"
            raise ValueError(
                f"{name}: score {lower.score} ends at {end} but score {upper.score} starts at "
                f"{upper.from_:g}; make each bin start where the previous one ends"
            )
    if ordered[-1].to is not None:
        raise ValueError(f"{name}: the last bin (score {ordered[-1].score}) must be open-ended (to: null)")
    scores = [b.score for b in ordered]
    if scores not in ([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]):
        raise ValueError(f"{name}: scores must rise or fall steadily with the value; got {scores}")


class SpendFit(KnowledgeModel):
    """When the shop's AOV is far from the one the spend bins assume, the bins are scaled to it."""

    reference_aov: float = Field(gt=0, description="the average order value the net_spend bins were set for")
    band: float = Field(gt=1, description="scale when the shop's AOV is more than this many times off")


class Thresholds(KnowledgeModel):
    recency_days: list[Bin]
    orders_per_year: list[Bin]
    net_spend: list[Bin]
    spend_fit: SpendFit | None = (
        None  # without it (a --thresholds file, say) the spend bins are used as given
    )

    @model_validator(mode="after")
    def _contiguous(self) -> Thresholds:
        for name in ("recency_days", "orders_per_year", "net_spend"):
            _check_bins(name, getattr(self, name))
        return self


def load_thresholds(path: str | None = None) -> Thresholds:
    if path is None:
        return load_knowledge("rfm_thresholds.yaml", Thresholds)
    from pathlib import Path

    try:
        return load_model_file(Path(path), Thresholds)
    except KnowledgeError as exc:
        raise KnowledgeError(f"--thresholds {exc}") from None


def fitted_spend_bins(thresholds: Thresholds, aov: float | None) -> tuple[list[Bin], str]:
    """The net_spend bins for a shop with this AOV, and a note when they were scaled (else "").

    The factor is the shop's AOV over the reference, to two significant digits, so the note's numbers are the
    ones used.
    """
    fit, bins = thresholds.spend_fit, thresholds.net_spend
    if fit is None or aov is None or aov <= 0:
        return bins, ""
    ratio = aov / fit.reference_aov
    if 1 / fit.band <= ratio <= fit.band:
        return bins, ""
    factor = float(f"{ratio:.2g}")
    scaled = [
        b.model_copy(update={"from_": b.from_ * factor, "to": None if b.to is None else b.to * factor})
        for b in bins
    ]
    cuts = ", ".join(f"{b.from_:,.0f}" for b in sorted(scaled, key=lambda b: b.from_)[1:])
    return scaled, (
        f"M cut points scaled x{factor:g} to {cuts}: the shop's AOV ({aov:,.2f}) is more than {fit.band:g} times "
        f"off the {fit.reference_aov:g} the default spend bins assume; give --thresholds or --method quantile to "
        "choose otherwise"
    )


def fixed_score_sql(expr: str, bins: list[Bin]) -> str:
    arms = " ".join(
        f"WHEN {expr} >= {b.from_!r}"
        + (f" AND {expr} < {b.to!r}" if b.to is not None else "")
        + f" THEN {b.score}"
        for b in sorted(bins, key=lambda b: b.from_)
    )
    return f"(CASE {arms} ELSE 1 END)"  # negative spend (net returns) falls below every bin


def quantile_score_sql(expr: str, cuts: list[float] | None, lower_is_better: bool = False) -> str:
    """1 + the number of cut points ``expr`` is strictly above (5 - that number when lower is better).

    ``cuts`` are the four quintile cut points (``quantile_disc`` at 0.2, 0.4, 0.6 and 0.8), None when there
    are no customers.
    """
    if cuts is None:
        return "NULL"
    above = " + ".join(f"CAST({expr} > {float(cut)!r} AS INTEGER)" for cut in cuts)
    return f"(5 - ({above}))" if lower_is_better else f"(1 + {above})"


def frequency_score_sql(score_sql: str, orders: str = "orders") -> str:
    """F as ``score_sql`` gives it, except that a repeat customer always scores at least 2 and a one-order
    customer 1.

    Orders per year alone gives two orders over eighteen months F 1, and a quintile cut point above 1 gives it
    to two-order customers; segments defined by F 1 ("a single order") would then hold repeat customers.
    """
    return f"(CASE WHEN {orders} <= 1 THEN 1 ELSE greatest(2, {score_sql}) END)"
