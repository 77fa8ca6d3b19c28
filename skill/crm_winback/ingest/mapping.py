"""Map a file's headers to the roles the scorer needs (customer, date, amount, ...).

Headers match synonyms from ``knowledge/columns.yaml`` case- and punctuation-insensitively; a known export
layout (Shopify, WooCommerce) can pin roles to its own headers; ``--map role=Header`` overrides both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import Field

from ..errors import InputError
from ..knowledge import KnowledgeModel, load_knowledge

ROLES = (
    "customer", "order_id", "date", "amount", "quantity", "unit_price", "status", "refunded_amount",
    "cancelled_at", "currency", "email", "phone", "first_name", "last_name", "email_consent", "sms_consent",
    "product", "category",
)  # fmt: skip

# Roles that may share a header with another role (the email is often also the customer key).
_SHAREABLE = {("customer", "email")}


class RoleSynonyms(KnowledgeModel):
    description: str
    synonyms: list[str] = Field(min_length=1)


class LayoutSignature(KnowledgeModel):
    name: str
    label: str
    requires: list[str] = Field(min_length=1)
    any_of: list[str] = Field(default_factory=list)
    map: dict[str, str] = Field(default_factory=dict)


class ColumnSynonyms(KnowledgeModel):
    roles: dict[str, RoleSynonyms]
    layouts: list[LayoutSignature]


def normalize_header(header: str) -> str:
    """``"Created at"`` -> ``"createdat"``: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", header.lower())


def parse_map_option(text: str | None) -> dict[str, str]:
    """Parse ``customer=Email,date="Created at",amount=Total`` into ``{role: header}``."""
    if not text:
        return {}
    result: dict[str, str] = {}
    for part in re.findall(r'(?:[^,"]|"[^"]*")+', text):
        role, sep, header = part.partition("=")
        role, header = role.strip(), header.strip().strip('"').strip("'")
        if not sep or not role or not header:
            raise InputError(
                f"--map: '{part.strip()}' is not role=Header; write e.g. --map customer=Email,amount=Total"
            )
        if role not in ROLES:
            raise InputError(f"--map: unknown role '{role}'; valid roles: {', '.join(ROLES)}")
        result[role] = header
    return result


def _shareable(a: str, b: str) -> bool:
    return (a, b) in _SHAREABLE or (b, a) in _SHAREABLE


def detect_layout(headers: Iterable[str]) -> LayoutSignature | None:
    normalized = {normalize_header(h) for h in headers}
    for layout in load_knowledge("columns.yaml", ColumnSynonyms).layouts:
        needs = {normalize_header(h) for h in layout.requires}
        any_of = {normalize_header(h) for h in layout.any_of}
        if needs <= normalized and (not any_of or any_of & normalized):
            return layout
    return None


def map_columns(
    headers: list[str], overrides: Mapping[str, str], layout: LayoutSignature | None, source: str
) -> dict[str, str]:
    """Return ``{role: header}`` for every role found. Raises when an override names a missing header."""
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(normalize_header(header), header)
    synonyms = load_knowledge("columns.yaml", ColumnSynonyms).roles
    mapping: dict[str, str] = {}
    for role, header in overrides.items():
        found = header if header in headers else by_norm.get(normalize_header(header))
        if found is None:
            raise InputError(
                f"{source}: --map {role}={header}: no such column; columns are: {', '.join(headers)}"
            )
        for other, used in mapping.items():
            if used == found and not _shareable(role, other):
                raise InputError(
                    f"{source}: --map {other}={overrides[other]} and {role}={header} name the same column "
                    f"'{found}'; one column cannot be two fields - map each field to its own column"
                )
        mapping[role] = found
    chosen = set(mapping.values())
    if layout is not None:
        for role, header in layout.map.items():
            found = by_norm.get(normalize_header(header))
            if role not in mapping and found is not None and found not in chosen:
                mapping[role] = found
    for role in ROLES:
        if role in mapping or role not in synonyms:
            continue
        taken = {h for r, h in mapping.items() if (r, role) not in _SHAREABLE and (role, r) not in _SHAREABLE}
        for synonym in synonyms[role].synonyms:
            found = by_norm.get(normalize_header(synonym))
            if found is not None and found not in taken:
                mapping[role] = found
                break
    return mapping
