"""The operator's context: what they told us about the business, every field optional.

An agent fills it from the operator's notes (``crm-winback schema context`` prints its JSON schema). Missing
fields are filled from knowledge by :mod:`crm_winback.brief.assumptions`, each as a stated assumption.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError, KnowledgeError
from ..knowledge import format_validation_error, parse_yaml_file
from .library import BRAND_BUDGET, BusinessType, Channel, Goal, Region

Stage = Literal["new", "active", "VIP", "at-risk", "lapsed", "churned"]
LifecycleFocus = Literal["onboarding", "retention", "winback", "vip"]


class ChannelContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel = Field(description="email, sms, push, wechat or direct_mail")
    tool: str | None = Field(
        default=None, description="the platform, e.g. Klaviyo, Mailchimp, SMSBump, Attentive"
    )
    opt_in_rate: float | None = Field(
        default=None, ge=0, le=1, description="share of customers who consented, 0-1"
    )


class ExistingSegment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    definition: str | None = None


class Context(BaseModel):
    """What the operator knows about the shop. Shares are fractions (0.28, not 28)."""

    model_config = ConfigDict(extra="forbid", title="crm-winback context")

    brand_name: str | None = Field(
        default=None, max_length=BRAND_BUDGET, description="sender name used in SMS copy"
    )
    business_type: BusinessType | None = Field(
        default=None, description="dtc, marketplace, subscription, hybrid or wholesale"
    )
    vertical: str | None = Field(
        default=None, description="skincare, apparel, supplements, coffee, pet, home, ..."
    )
    region: Region | None = Field(
        default=None, description="US, EU, UK, CN or other; decides the consent rules"
    )
    currency: str | None = Field(default=None, description="ISO code such as USD")
    customers: int | None = Field(default=None, gt=0, description="customers with at least one order")
    aov: float | None = Field(default=None, gt=0, description="average order value")
    repeat_rate: float | None = Field(
        default=None, ge=0, le=1, description="share of customers with 2+ orders"
    )
    orders_per_year: float | None = Field(default=None, gt=0, description="orders per customer per year")
    repurchase_cycle_days: float | None = Field(default=None, gt=0, description="typical days between orders")
    gross_margin: float | None = Field(
        default=None, gt=0, lt=1, description="gross margin as a share of revenue"
    )
    churn_notes: str | None = Field(default=None, description="what the operator knows about churn")
    return_notes: str | None = Field(default=None, description="returns and refunds")
    channels: list[ChannelContext] | None = Field(
        default=None, description="channels in use, with tool and opt-in rate"
    )
    goal: Goal | None = Field(
        default=None,
        description="reduce_churn, increase_ltv, reactivate_lapsed, vip_loyalty or winback_subscribers "
        "(cancelled subscribers)",
    )
    lapse_days: int | None = Field(
        default=None, gt=0, description="the operator's own winback threshold in days"
    )
    lifecycle_focus: LifecycleFocus | None = None
    existing_segments: list[ExistingSegment] | None = None
    campaign_start: dt.date | None = Field(
        default=None,
        description="first day of the campaign calendar (YYYY-MM-DD); default the Monday after the data",
    )
    max_discount: float | None = Field(
        default=None, ge=0, lt=1, description="the deepest discount allowed, 0-1"
    )
    discount_notes: str | None = None
    notes: str | None = Field(default=None, description="anything else the operator said")


def context_schema() -> dict[str, Any]:
    """The JSON schema an agent fills (``crm-winback schema context``)."""
    return Context.model_json_schema()


def parse_context(data: Any, source: str = "context") -> Context:
    """Validate ``data`` (a mapping or None) as a Context; errors name the source and the field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of fields (see crm-winback schema context)")
    try:
        return Context.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            format_validation_error(source, exc).split("; ")[0] + "; see crm-winback schema context"
        ) from None


def load_context(path: str | Path) -> Context:
    """Read a context file (YAML or JSON)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"--context {file}: file not found; check the path")
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"--context {file}: not valid JSON ({exc}); fix the file") from None
    else:
        try:
            data = parse_yaml_file(file)
        except KnowledgeError as exc:  # the shared YAML reader's message, re-raised as bad input
            raise InputError(f"--context {exc}") from None
    return parse_context(data, str(file))
