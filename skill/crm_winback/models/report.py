"""What the visual report wrote (built by crm_winback.visual)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from . import StrictModel


class ReportResult(StrictModel):
    """The HTML file written, its charts and anything left out with the reason."""

    report_file: str = Field(description="the self-contained HTML report; opens offline in any browser")
    as_of: dt.date
    customers: int
    confidence: str
    charts: list[str] = Field(description="the ids of the charts drawn, in page order")
    skipped: list[str] = Field(description="charts not drawn, each with the reason")
    brief_link: str = Field(
        description="the markdown line that links the report; put it under the brief's title (a brief in the "
        "same folder)"
    )
