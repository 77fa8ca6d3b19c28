"""crm-segment-winback: score order exports into RFM segments, lifecycle stages and winback briefs."""

__version__ = "0.1.0"
