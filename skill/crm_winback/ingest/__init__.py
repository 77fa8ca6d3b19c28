"""Read an order export into a clean table of orders, with a report of what was found and left out."""

from .load import Ingested, IngestOptions, load_orders

__all__ = ["IngestOptions", "Ingested", "load_orders"]
