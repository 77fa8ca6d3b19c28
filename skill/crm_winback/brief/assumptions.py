"""Fill every missing context field: from the shop's scored orders when given, else from knowledge defaults.

Each value carries where it came from (given / measured / default). Every default becomes an explicit
:class:`Assumption` - what was assumed, why, and how to check it - so no number in a brief is unexplained.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from ..api import ScoreResult
from ..models.documents import Assumption
from .context import Context
from .library import (
    BusinessType,
    Channel,
    ChannelDefault,
    Goal,
    Library,
    Need,
    Region,
    VerticalProfile,
    traits_for,
)

Origin = Literal["given", "measured", "default"]


class ResolvedChannel(BaseModel):
    channel: Channel
    tool: str
    opt_in_rate: float


class Resolved(BaseModel):
    """The context with every field filled, and where each value came from."""

    brand_name: str
    business_type: BusinessType
    business_label: str
    business_note: str
    shape: str  # the business shape read from the orders, with why; empty without orders
    traits: list[Need]  # what the business is (library.Need): decides which playbook rows fit
    vertical: str
    profile: VerticalProfile
    region: Region
    currency: str
    customers: int
    aov: float
    repeat_rate: float
    orders_per_year: float
    cycle_days: float
    gross_margin: float
    channels: list[ResolvedChannel]
    goal: Goal
    goal_label: str
    priority_stages: list[str]
    sequence_ids: list[str]  # the flows the brief details: the lifecycle focus's, else the goal's
    lapse_days: int
    existing_segments: list[str]  # the operator's segment names, as given
    lifecycle_focus: str | None
    max_discount: float
    origin: dict[str, Origin]
    assumptions: list[Assumption]
    data_notes: list[str]


SHAPE_LABELS = {
    "wholesale": "a wholesaler (B2B)",
    "subscription": "a subscription cadence",
    "one-off": "one-off retail",
}


def business_shape(
    lib: Library, vp: VerticalProfile, aov: float, repeat: float, opy: float
) -> tuple[str, str]:
    """The shape of the business from measured AOV, repeat rate and orders a year, and the numbers behind it."""
    rules = lib.profiles.shapes
    why = (
        f"AOV {aov:,.2f}, {aov / vp.aov:.1f}x the {vp.vertical} profile's {vp.aov:g}; {repeat * 100:.1f}% of "
        f"customers reorder; {opy:g} orders per customer a year"
    )
    if aov >= rules.wholesale.min_aov_multiple * vp.aov and repeat >= rules.wholesale.min_repeat_rate:
        return "wholesale", why
    if repeat >= rules.subscription.min_repeat_rate and opy >= rules.subscription.min_orders_per_year:
        return "subscription", why
    return "one-off", why


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def resolve(ctx: Context, lib: Library, data: ScoreResult | None = None) -> Resolved:
    """Merge notes, measured data and defaults; measured numbers win over notes (and the gap is noted)."""
    prof, d = lib.profiles, lib.profiles.defaults
    origin: dict[str, Origin] = {}
    assumptions: list[Assumption] = []
    notes: list[str] = []

    def assume(field: str, value: str, why: str, check: str) -> None:
        origin[field] = "default"
        assumptions.append(Assumption(field=field, value=value, why=why, how_to_check=check))

    vertical_profile = prof.find_vertical(ctx.vertical) if ctx.vertical else None
    if vertical_profile is None:
        vertical_profile = prof.find_vertical(d.vertical)
        assert vertical_profile is not None  # the model validator guarantees the default exists
        why = (
            f"'{ctx.vertical}' is not a vertical in knowledge/business_profiles.yaml"
            if ctx.vertical
            else "no vertical given"
        )
        assume(
            "vertical",
            vertical_profile.vertical,
            f"{why}; the general profile is used",
            "name the vertical (skincare, apparel, supplements, coffee, pet, home, electronics, food)",
        )
    else:
        origin["vertical"] = "given"
    vp = vertical_profile

    def pick(
        field: str,
        given: float | int | str | None,
        default: float | int | str,
        shown: str,
        why: str,
        check: str,
    ) -> float | int | str:
        if given is not None:
            origin[field] = "given"
            return given
        assume(field, shown, why, check)
        return default

    brand = str(
        pick(
            "brand_name",
            ctx.brand_name,
            d.brand_name,
            d.brand_name,
            "no brand name given",
            "set brand_name (at most 20 characters): SMS copy opens with it",
        )
    )
    region = ctx.region or d.region
    if ctx.region is None:
        assume(
            "region",
            region,
            "no region given; it decides the consent rules",
            "name the countries you send to (US, EU, UK, CN)",
        )
    else:
        origin["region"] = "given"
    goal = ctx.goal or d.goal
    if ctx.goal is None:
        assume(
            "goal",
            goal,
            f"no campaign goal given, so the documents lead with {prof.goal(goal).label} (the default); "
            "segments and stages are the same whatever the goal",
            "choose reduce_churn, increase_ltv, reactivate_lapsed, vip_loyalty or winback_subscribers",
        )
    else:
        origin["goal"] = "given"
    max_discount = float(
        pick(
            "max_discount",
            ctx.max_discount,
            d.max_discount,
            _pct(d.max_discount),
            "no discount limit given; the ladder stops here",
            "ask finance for the deepest discount CRM may offer",
        )
    )
    margin = float(
        pick(
            "gross_margin",
            ctx.gross_margin,
            vp.gross_margin,
            _pct(vp.gross_margin),
            f"typical for {vp.vertical} ({vp.why})",
            "take gross margin from the P&L",
        )
    )

    measured: dict[str, float | int | str | None] = {}
    if data is not None:
        q, s = data.quality, data.scoring
        measured["customers"] = s.customers
        measured["aov"] = s.scorecard.total.aov
        measured["repeat_rate"] = round(1 - q.one_time_buyer_share, 4)
        years = max(q.history_days, 1) / 365
        measured["orders_per_year"] = (
            round(q.orders / max(q.customers, 1) / years, 2) if q.customers else None
        )
        measured["currency"] = q.currency
        if s.repurchase_cycle_source.startswith("measured"):
            measured["cycle_days"] = s.repurchase_cycle_days
        else:
            notes.append(f"repurchase cycle: {s.repurchase_cycle_source}")

    def number(
        field: str, given: float | int | None, default: float | int, shown: str, why: str, check: str
    ) -> float:
        value = measured.get(field)
        if value is not None:
            origin[field] = "measured"
            if given is not None and abs(float(given) - float(value)) > 0.1 * max(abs(float(value)), 1e-9):
                notes.append(
                    f"{field}: the notes say {given:g}, the orders measure {float(value):g}; "
                    "the measured value is used"
                )
            return float(value)
        return float(pick(field, given, default, shown, why, check))

    customers = int(
        number(
            "customers",
            ctx.customers,
            d.customers,
            f"{d.customers:,}",
            "no customer count given; sizes are placeholders",
            "count customers with an order",
        )
    )
    aov = number(
        "aov",
        ctx.aov,
        vp.aov,
        f"{vp.aov:g}",
        f"typical for {vp.vertical}",
        "net revenue divided by orders over the last 12 months",
    )
    repeat = number(
        "repeat_rate",
        ctx.repeat_rate,
        vp.repeat_rate,
        _pct(vp.repeat_rate),
        f"typical for {vp.vertical}",
        "share of customers with two or more orders",
    )
    opy = number(
        "orders_per_year",
        ctx.orders_per_year,
        vp.orders_per_year,
        f"{vp.orders_per_year:g}",
        f"typical for {vp.vertical}",
        "orders divided by customers over 12 months",
    )
    cycle = number(
        "cycle_days",
        ctx.repurchase_cycle_days,
        vp.repurchase_cycle_days,
        f"{vp.repurchase_cycle_days} days",
        f"{vp.vertical}: {vp.why}",
        "run crm-winback score on an orders export: it measures the median days between orders",
    )
    currency = str(measured.get("currency") or ctx.currency or d.currency)
    origin["currency"] = "measured" if measured.get("currency") else ("given" if ctx.currency else "default")
    if origin["currency"] == "default":
        assume("currency", currency, "no currency given", "state the currency of the amounts")

    lapse = ctx.lapse_days if ctx.lapse_days is not None else round(2 * cycle)
    if ctx.lapse_days is None:
        assume(
            "lapse_days",
            f"{lapse} days",
            "lapsed means two repurchase cycles without an order (knowledge/lifecycle.yaml)",
            "set lapse_days if you already define lapsed differently",
        )
    else:
        origin["lapse_days"] = "given"

    shape, shape_why = business_shape(lib, vp, aov, repeat, opy) if data is not None else ("", "")
    btype: BusinessType = ctx.business_type or d.business_type
    if ctx.business_type is not None:
        origin["business_type"] = "given"
        if shape and shape not in (btype, "hybrid") and not (shape == "one-off" and btype != "subscription"):
            said = prof.business_type(btype).label
            keep = (
                ": the cancellation-save and failed-payment triggers assume subscription billing - keep them "
                "only if you bill subscriptions"
                if btype == "subscription"
                else ""
            )
            notes.append(
                f"business type: you said {said}; the orders look like {SHAPE_LABELS[shape]} ({shape_why}){keep}"
            )
    elif shape == "wholesale":
        btype = "wholesale"
        origin["business_type"] = "measured"
    else:
        assume(
            "business_type",
            btype,
            "no business type given" + (f"; the orders look like {SHAPE_LABELS[shape]}" if shape else ""),
            "say DTC, marketplace, subscription, hybrid or wholesale",
        )
    traits = traits_for(btype, vp.replenishes or shape == "subscription")
    # a default channel the business does not suit (SMS and app push for trade buyers) is not assumed; a channel
    # the operator lists is always kept
    unsuited: set[str] = {c.channel for c in lib.channels.channels if not c.fits(traits)}
    channels = _channels(ctx, d.channels, data, assume, origin, notes, unsuited)
    if region != "CN" and any(c.channel == "wechat" for c in channels):
        notes.append("wechat is listed but the region is not CN: it is kept, with the CN broadcast rules")
    bt = prof.business_type(btype)
    gp = prof.goal(goal)
    focus = prof.focus(ctx.lifecycle_focus) if ctx.lifecycle_focus else None
    priority = list(focus.stages) if focus else []
    priority += [st for st in gp.priority_stages if st not in priority]
    flows = list(focus.sequences if focus else gp.sequences)
    return Resolved(
        brand_name=brand,
        business_type=btype,
        business_label=bt.label,
        business_note=bt.note,
        shape=f"{SHAPE_LABELS[shape]} ({shape_why})" if shape else "",
        traits=sorted(traits),
        vertical=vp.vertical if ctx.vertical is None or origin["vertical"] == "default" else ctx.vertical,
        profile=vp,
        region=region,
        currency=currency,
        customers=customers,
        aov=aov,
        repeat_rate=repeat,
        orders_per_year=opy,
        cycle_days=cycle,
        gross_margin=margin,
        channels=channels,
        goal=goal,
        goal_label=gp.label,
        priority_stages=priority,
        sequence_ids=flows,
        lapse_days=lapse,
        existing_segments=[seg.name for seg in ctx.existing_segments or []],
        lifecycle_focus=ctx.lifecycle_focus,
        max_discount=max_discount,
        origin=origin,
        assumptions=assumptions,
        data_notes=notes,
    )


def _channels(
    ctx: Context,
    defaults: list[ChannelDefault],
    data: ScoreResult | None,
    add: Callable[[str, str, str, str], None],
    origin: dict[str, Origin],
    notes: list[str],
    unsuited: set[str],
) -> list[ResolvedChannel]:
    """Channels as given (opt-in rates measured from consent columns when the orders carry them); with none
    given, the default channels the business suits (``unsuited``: not assumed, e.g. SMS for trade buyers)."""
    reach: dict[str, float] = {}
    if data is not None and data.scoring.customers:
        total, n = data.scoring.scorecard.total, data.scoring.customers
        if total.email_reachable is not None:
            reach["email"] = round(total.email_reachable / n, 4)
        if total.sms_reachable is not None:
            reach["sms"] = round(total.sms_reachable / n, 4)
    if not ctx.channels:
        used = [c for c in defaults if c.channel not in unsuited]
        listed = ", ".join(f"{c.channel} via {c.tool} ({_pct(c.opt_in_rate)} opt-in)" for c in used)
        skipped = [c.channel for c in defaults if c.channel in unsuited]
        why = "no channels given" + (
            f"; {', '.join(skipped)} not assumed: a consumer channel, not for business buyers"
            if skipped
            else ""
        )
        add("channels", listed, why, "list each channel, its tool and its opt-in rate")
        return [
            ResolvedChannel(channel=c.channel, tool=c.tool, opt_in_rate=reach.get(c.channel, c.opt_in_rate))
            for c in used
        ]
    origin["channels"] = "given"
    out = []
    fallback = {c.channel: c for c in defaults}
    for c in ctx.channels:
        rate = reach.get(c.channel, c.opt_in_rate)
        if rate is None:
            rate = fallback[c.channel].opt_in_rate if c.channel in fallback else 0.0
            add(
                f"channels.{c.channel}.opt_in_rate",
                _pct(rate),
                "no opt-in rate given for this channel",
                "read the consented share from the email or SMS platform",
            )
        elif c.channel in reach and c.opt_in_rate is not None:
            notes.append(
                f"{c.channel} opt-in: measured {_pct(reach[c.channel])} reachable in the orders "
                f"export (notes said {_pct(c.opt_in_rate)})"
            )
        tool = c.tool or "(tool not named)"
        out.append(ResolvedChannel(channel=c.channel, tool=tool, opt_in_rate=rate))
    return out
