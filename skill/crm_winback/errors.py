"""The errors the core raises. Each message names the file, column, row or field and says what to do.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; the MCP server turns the same
message into a tool error. Nothing else in the package should surface a traceback to a user.
"""

from __future__ import annotations


class CrmError(Exception):
    """Base class: a failure the user can act on."""

    exit_code = 1


class InputError(CrmError):
    """The user's input (a file, a column, an option) cannot be used as given."""

    exit_code = 2


class OutputExists(InputError):
    """An output file is already there and the user did not ask to replace it."""


class KnowledgeError(CrmError):
    """A knowledge or configuration YAML file is malformed or fails validation."""

    exit_code = 2


class DataError(CrmError):
    """The data can be read but does not support the requested analysis."""

    exit_code = 1
