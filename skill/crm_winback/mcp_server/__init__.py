"""The MCP tool server: a thin door onto crm_winback's core for agents (``crm-winback mcp``).

Start-up must stay cheap: this package imports only the MCP SDK and pydantic at module level. DuckDB, NumPy,
SciPy, Jinja2 and the core modules that use them are imported inside the tools that need them.
"""
