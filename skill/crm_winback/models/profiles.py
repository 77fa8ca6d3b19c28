"""What the email/SMS platform's profile export added (built by crm_winback.ingest.profiles)."""

from __future__ import annotations

from . import StrictModel


class ProfileSection(StrictModel):
    """One export read: a file, or one part of a file that holds several exports pasted under each other."""

    file: str
    layout: str
    layout_label: str
    header_line: int
    rows: int
    columns: dict[str, str]  # role -> header used


class ProfileExclusion(StrictModel):
    reason: str
    rows: int


class ConsentConflict(StrictModel):
    """Customers whose platform consent differs from the order export's flag (the platform's answer is used)."""

    channel: str
    platform_yes_orders_no: int
    platform_no_orders_yes: int


class ProfileReport(StrictModel):
    """The join of the platform's profiles to the order customers, and what it changed.

    ``profiles`` counts distinct addresses (an email, or an E.164 phone for a profile without email);
    ``duplicates`` the rows beyond the first of an address (the latest consent statement wins). ``prospects``
    are profiles that match no customer: people on the list who never ordered.
    """

    files: list[str]
    sections: list[ProfileSection]
    rows: int
    excluded: list[ProfileExclusion]
    profiles: int
    duplicates: int
    customers: int
    matched_customers: int
    matched_by_email: int
    matched_by_phone: int
    match_rate: float
    customers_without_profile: int
    prospects: int
    consent_channels: list[str]  # channels whose consent comes from the platform
    consent_from_platform: dict[str, int]  # channel -> matched customers with a platform statement
    conflicts: list[ConsentConflict]
    engagement_known: bool
    engagement_tiers: dict[str, int]  # tier -> customers (unknown included)
    engagement_note: str
    notes: list[str]
