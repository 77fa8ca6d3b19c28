"""The brief's engagement lines: tiers per stage, the sunset rule and who it moves out of campaigns.

With the platform's profiles (--profiles) the lines count the engagement tiers on the customers; without
them they say that engagement is unknown and why that matters (``knowledge/engagement.yaml``).
"""

from __future__ import annotations

from ..api import ScoreResult
from ..ingest.profiles import UNKNOWN_TIER, engagement_rules
from ..tables import pct


def engagement_lines(data: ScoreResult | None) -> list[str]:
    rules = engagement_rules()
    profiles = data.scoring.profiles if data is not None else None
    if profiles is None or not profiles.engagement_known:
        lines = [rules.unknown_note]
        if profiles is not None:  # consent came from a platform export that carries no engagement dates
            lines = [*profiles.notes, rules.unknown_note.split(": ", 1)[-1]]
        return lines
    assert data is not None
    card = data.scoring.scorecard
    tiers = card.total.engagement or {}
    known = sum(n for t, n in tiers.items() if t != UNKNOWN_TIER)
    counted = ", ".join(f"{t} {n:,}" for t, n in tiers.items())
    lines = [
        f"Engagement tiers from the platform's last click / open dates ({counted}; {profiles.matched_customers:,} "
        f"of {profiles.customers:,} customers matched a profile, {pct(profiles.match_rate)}). "
        f"{rules.why_clicks_over_opens} ({rules.why_clicks_over_opens_source})",
    ]
    by_stage = [
        f"{r.group} {pct(r.engagement_quality)}"
        for r in card.by_lifecycle
        if r.engagement_quality is not None
    ]
    if by_stage:
        lines.append(
            "Engaged or warm, of the customers with a known tier, by stage: "
            + "; ".join(by_stage)
            + ". Send "
            "email campaigns first where this share is high; where it is low, lead with the channel that has "
            "consent and reach (SMS, direct mail) or with a re-permission message."
        )
    sunset = tiers.get(rules.sunset.tier, 0)
    lines.append(
        f"Sunset rule: {sunset:,} customers ({pct(sunset / known) if known else '-'} of those with a known tier) "
        f"are {rules.sunset.tier}. {rules.sunset.rule} ({rules.sunset.source})"
    )
    return lines
