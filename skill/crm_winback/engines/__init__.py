"""The per-customer summary beyond DuckDB: a versioned contract, one portable Ibis expression for it, and the
engines and SQL dialects that run it (PySpark, DuckDB, PostgreSQL; SQL for BigQuery, Snowflake, Trino, Spark).

Nothing here is imported by the local scoring path: Ibis and PySpark are optional extras, loaded only when one
of these features is asked for (``require`` names what to install when they are missing).
"""
