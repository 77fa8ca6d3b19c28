"""The MCP tool server: a thin door onto crm_winback's core for agents (``crm-winback mcp``).

Start-up must stay cheap: this package imports only the MCP SDK and pydantic at module level. DuckDB, NumPy,
SciPy, Jinja2 and the core modules that use them are imported inside the tools that need them.

A new tool follows these conventions (``tests/test_mcp_budget.py`` and ``bench/bench_mcp.py`` hold them):

- **Where**: a ``register(server, env)`` function in the module of its area (``score_tools``, ``brief_tools``,
  ...; a new area gets a new ``*_tools.py`` listed in ``server.TOOL_MODULES``). The body parses arguments,
  calls one core function inside ``with tool_errors():`` and returns a pydantic model; paths go through
  ``env.source`` / ``env.policy`` only.
- **Definition** (all tools together stay under ``budget.DEFINITIONS_BUDGET``, 5,000 tokens; the 19 of
  2026-11-30 take 4,563): a verb-first name; a docstring of one or two sentences saying what it returns and
  when to use it (workflow and caveats belong in SKILL.md, said once); each argument an ``Annotated[..., Field(
  description=...)]`` of a few words, reusing the shared ones (``FileArg``, ``ExampleArg``, ``ColumnMapArg``,
  ``AsOfArg`` in ``common``; ``DbPathArg``, ``ShopArg``, ``SnapshotArg`` in ``segment_tools``; ``ContextArg``
  / ``SameContextArg`` in ``brief_tools``) instead of new wording. Never embed a model's whole schema in an argument: give ``WithJsonSchema({"type": "object"})``
  and name its fields, as ``ContextArg`` does. The server strips titles, ``anyOf [X, null]`` and null
  defaults from every input schema and puts docstrings on one line.
- **Result** (any one result stays under ``budget.RESULT_BUDGET``, 2,500 tokens, on any data size):
  aggregates, counts and file paths. A list that grows with the data (customers, months, models, cells) is
  capped or summarised in the result, with the whole written to a file in the output folder whose path the
  result names (as ``score_customers`` does with ``summary_file``, ``predict_customers`` with the backtest's
  ``BacktestDigest``, ``build_cohorts`` with ``MAX_COHORT_ROWS``). The server sends the structured content as
  compact JSON without nulls.
- **Annotations**: ``READ_ONLY``, ``WRITES_OUTPUT`` or ``ADDS_OUTPUT`` from ``common``, as true of the tool.
- **Measured**: add a call to ``bench.bench_mcp.session`` (the budget test fails while a listed tool is never
  called), name the tool in SKILL.md's reference list and mapping table, and run
  ``.venv/bin/python -m pytest tests/test_mcp_budget.py``.
"""
