"""Segments: the rule language, pre-built segments, the customer store, migration and audience export."""
