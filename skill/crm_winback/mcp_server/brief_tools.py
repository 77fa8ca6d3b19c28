"""Tools for the documents: context schema, brief, LTV plan, programme, knowledge look-up, and the check.

A built document is written to the output folder (a brief runs to about 20,000 characters, too much for a tool
result); the result lists its narrative slots. The agent fills the slots in the file, or in the text it passes
to check_brief, and checks until the check passes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field, WithJsonSchema

from ..brief.context import Context, context_schema
from ..brief.library import LIBRARY_FILES
from ..errors import InputError
from ..models.documents import CheckReport, KnowledgeAnswer
from .common import (
    ADDS_OUTPUT,
    READ_ONLY,
    ExampleArg,
    FileArg,
    ProfilesArg,
    ToolEnv,
    tool_errors,
    tool_text,
)
from .results import ContextSchemaResult, DocumentResult

if TYPE_CHECKING:
    from ..brief.api import BuiltDocument

KNOWLEDGE_TOPICS = tuple(LIBRARY_FILES)
# A filled brief is markdown of some tens of kilobytes; anything far larger is not one.
MAX_DOCUMENT_CHARS = 1_000_000

# The context is validated against the whole Context model, but listed as its field names only: its full
# schema (about 1,500 tokens) is get_context_schema's result, not part of three tool definitions.
ContextArg = Annotated[
    Context | None,
    WithJsonSchema({"type": "object"}),
    Field(description="what the operator told you: an object with any of "
                      f"{', '.join(Context.model_fields)} (types and allowed values: get_context_schema). Shares "
                      "are fractions (0.28). Leave out what you do not know: the brief states each default it "
                      "uses as an assumption"),
]  # fmt: skip
SameContextArg = Annotated[
    Context | None, WithJsonSchema({"type": "object"}), Field(description="as build_brief's context")
]
ScoresSummaryArg = Annotated[
    str | None,
    Field(description="summary_file from score_customers (preferred over file, which scores with defaults)"),
]  # fmt: skip
NAME_HELP = "file name (.md) in the output folder; never replaced (-2, -3, ... added)"
IncludeMarkdownArg = Annotated[
    bool, Field(description="also return the markdown (~5,000 tokens); only when you cannot read files")
]


def register(server: MCPServer, env: ToolEnv) -> None:
    @server.tool(annotations=READ_ONLY)
    def get_context_schema() -> ContextSchemaResult:
        """The JSON schema of build_brief's context (business, region, channels, goal, limits)."""
        return ContextSchemaResult(
            json_schema=_schema(),
            note="Every field is optional. Shares are fractions (0.28, not 28). Missing fields become stated "
            "assumptions in the brief; ask the user about the ones that matter most.",
        )

    def document(
        build: Callable[..., BuiltDocument], context: Context | None, scores_summary: str | None, file: str | None,
        example: str | None, output_name: str, include_markdown: bool, profiles: list[str] | None = None,
    ) -> DocumentResult:  # fmt: skip
        if scores_summary and (file or example):
            raise InputError("give scores_summary or file/example, not both")
        scores = env.policy.input_file(scores_summary, "scores_summary") if scores_summary else None
        orders = env.source(file, example) if (file or example) else None
        target = env.policy.new_output_file(output_name, (".md",))
        platform = tuple(str(env.policy.input_file(p, "profiles")) for p in profiles or [])
        built = build(
            context or Context(), orders=orders, scores=scores, **({"profiles": platform} if platform else {})
        )
        from ..files import write_text

        write_text(target, built.markdown)
        data = built.model_dump(exclude={"markdown"})
        for assumption in data["assumptions"]:
            assumption["how_to_check"] = tool_text(assumption["how_to_check"])
        return DocumentResult.model_validate({
            **data, "file": str(target), "characters": len(built.markdown),
            "markdown": built.markdown if include_markdown else None,
            "next_step": f"replace each of the {len(built.slots)} narrative comments in file with prose, then "
                         "call check_brief on the file and fix what it reports",
        })  # fmt: skip

    @server.tool(annotations=ADDS_OUTPUT)
    def build_brief(
        context: ContextArg = None,
        scores_summary: ScoresSummaryArg = None,
        file: FileArg = None,
        example: ExampleArg = None,
        output_name: Annotated[str, Field(description=NAME_HELP)] = "brief.md",
        include_markdown: IncludeMarkdownArg = False,
        profiles: ProfilesArg = None,
    ) -> DocumentResult:
        """Build the CRM segment & winback brief from the context (and the scores, with data).

        Writes the markdown skeleton and returns its narrative slots to fill.
        """
        with tool_errors():
            from ..brief.api import build_brief as build

            return document(
                build, context, scores_summary, file, example, output_name, include_markdown, profiles
            )

    @server.tool(annotations=ADDS_OUTPUT)
    def plan_ltv(
        context: SameContextArg = None,
        scores_summary: ScoresSummaryArg = None,
        file: FileArg = None,
        example: ExampleArg = None,
        output_name: Annotated[str, Field(description=NAME_HELP)] = "ltv-plan.md",
        include_markdown: IncludeMarkdownArg = False,
    ) -> DocumentResult:
        """Build the LTV plan (diagnosis, ranked levers, horizons); like build_brief, returns its slots."""
        with tool_errors():
            from ..brief.api import build_ltv_plan_document

            return document(
                build_ltv_plan_document, context, scores_summary, file, example, output_name, include_markdown
            )

    @server.tool(annotations=ADDS_OUTPUT)
    def build_programme(
        context: SameContextArg = None,
        scores_summary: ScoresSummaryArg = None,
        file: FileArg = None,
        example: ExampleArg = None,
        output_name: Annotated[str, Field(description=NAME_HELP)] = "programme.md",
        include_markdown: IncludeMarkdownArg = False,
    ) -> DocumentResult:
        """Build the CRM programme (journey, automations, churn playbook, loyalty); returns its slots."""
        with tool_errors():
            from ..brief.api import build_programme_document

            return document(
                build_programme_document,
                context,
                scores_summary,
                file,
                example,
                output_name,
                include_markdown,
            )

    @server.tool(annotations=READ_ONLY)
    def lookup_knowledge(
        topic: Annotated[
            Literal[KNOWLEDGE_TOPICS],  # type: ignore[valid-type]
            Field(description="the knowledge file"),
        ],
        segment: Annotated[
            str | None, Field(description="lifecycle stage: new, active, VIP, at-risk, lapsed, churned")
        ] = None,
        channel: Annotated[str | None, Field(description="email, sms, push, wechat, direct_mail")] = None,
        goal: Annotated[
            str | None,
            Field(
                description="reduce_churn, increase_ltv, reactivate_lapsed, vip_loyalty, winback_subscribers"
            ),
        ] = None,
    ) -> KnowledgeAnswer:
        """Entries of one knowledge file, filtered by stage, channel and goal."""
        with tool_errors():
            from ..brief.api import knowledge_lookup

            return knowledge_lookup(topic, segment, channel, goal)

    @server.tool(annotations=READ_ONLY)
    def check_brief(
        file: Annotated[str | None, Field(description="the filled markdown file")] = None,
        text: Annotated[
            str | None, Field(description="the filled markdown itself, when not in a file")
        ] = None,
    ) -> CheckReport:
        """Check a filled document: sections, slots written, red flags (promises, SMS without opt-out, ...).

        Each finding has a line number; fix and check again until passed is true.
        """
        with tool_errors():
            from ..brief.api import check_document

            return check_document(_document_text(env, file, text))


@functools.cache
def _schema() -> dict[str, Any]:
    return context_schema()


def _document_text(env: ToolEnv, file: str | None, text: str | None) -> str:
    if (file is None) == (text is None):
        raise InputError("give either file (a markdown file) or text (the markdown itself)")
    if text is not None:
        if len(text) > MAX_DOCUMENT_CHARS:
            raise InputError(f"text: {len(text):,} characters is not a brief; pass the file instead")
        return text
    path = env.policy.input_file(file or "", "file")
    if path.stat().st_size > MAX_DOCUMENT_CHARS * 4:
        raise InputError(f"file {file}: too large to be a brief; check the path")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"file {file}: not UTF-8 text; give the markdown brief") from None
