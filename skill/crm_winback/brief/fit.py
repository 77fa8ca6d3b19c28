"""Which playbook rows fit the business: the needs a business meets, and the one statement of what was left out.

A row of ``knowledge/*.yaml`` with ``needs`` (subscription, replenishment, consumer, wholesale) is used only for a
business that meets all of them. The business type (stated, or wholesale read from the orders), the vertical's
``replenishes`` flag and a subscription cadence in the orders decide the needs met; every document then says
once which rows were left out and why, so nothing disappears without a word.
"""

from __future__ import annotations

from collections.abc import Iterable

from .assumptions import Resolved
from .library import NEEDS, Fitted, Need


def why_not(r: Resolved, need: Need) -> str:
    """Why this business does not meet ``need``, in the operator's terms."""
    basis = {"given": "you said so", "measured": "read from the orders", "default": "assumed"}
    said = basis[r.origin.get("business_type", "default")]
    if need == "subscription":
        return f"the business is a {r.business_label} ({said}), not billed by subscription"
    if need == "consumer":
        return f"the buyers are businesses: {r.business_label} ({said})"
    if need == "wholesale":
        return "the buyers are consumers, not trade accounts"
    if r.origin.get("vertical") == "default":
        return (
            "no vertical says the products are used up and reordered (name the vertical to get replenishment "
            "reminders)"
        )
    return f"{r.vertical} products are not used up and reordered on a rhythm"


class LeftOut:
    """Collects the rows a document leaves out, by the first need the business does not meet, then by kind."""

    def __init__(self, r: Resolved) -> None:
        self.r = r
        self.traits = frozenset(r.traits)
        self.rows: dict[Need, dict[str, list[str]]] = {}

    def keep(self, row: Fitted, kind: str, name: str) -> bool:
        """True when the row fits; otherwise it is recorded as ``kind`` ``name`` and False is returned."""
        missing = [n for n in row.needs if n not in self.traits]
        if not missing:
            return True
        names = self.rows.setdefault(missing[0], {}).setdefault(kind, [])
        if name not in names:
            names.append(name)
        return False

    def kept(self, rows: Iterable[Fitted], kind: str, name: str = "name") -> list[Fitted]:
        return [row for row in rows if self.keep(row, kind, str(getattr(row, name)))]

    def lines(self) -> list[str]:
        """One sentence per unmet need: which rows were left out, and why."""
        return [
            f"{why_not(self.r, need)[0].upper()}{why_not(self.r, need)[1:]}, so these are left out: "
            + "; ".join(
                f"{kind} {', '.join(repr(n) for n in names)}" for kind, names in self.rows[need].items()
            )
            + "."
            for need in NEEDS
            if need in self.rows
        ]
