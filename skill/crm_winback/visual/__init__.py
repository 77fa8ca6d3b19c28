"""The visual report: one self-contained HTML page of inline SVG charts drawn from the core's numbers."""

from .build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
