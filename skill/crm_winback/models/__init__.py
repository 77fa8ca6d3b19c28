"""The result models the core returns and the MCP server declares as tool outputs.

They live here, apart from the code that builds them, because the server registers each tool's output model
at start-up and must not import DuckDB, NumPy, SciPy or Jinja2 to do so. So these modules import only
pydantic and the standard library; the core modules that build the results re-export them.
"""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A result whose schema admits no other fields, so an agent reading the tool schema sees all there is."""

    model_config = ConfigDict(extra="forbid")
