"""The bad-input catalogue: every awkward or hostile input we know of, with the outcome it must have.

Each ``tests/catalogue/*.yaml`` file is a list of cases (format in ``tests/catalogue/README.md``). A case writes
its input files into an empty folder, runs one CLI command (in-process, from that folder) or one MCP tool call
(a server rooted in that folder), and checks the outcome: the exit code or tool error, key words of the message,
numbers in the JSON result, the output files, and what must never appear (personal data, tracebacks).

Always checked, whatever the case says: no traceback and no "internal error" anywhere; a refused command
leaves no new file behind; the input files are unchanged unless the case says otherwise.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from crm_winback.cli import main

from . import catalogue_gen
from .mcp_support import call, server_in

CATALOGUE = Path(__file__).resolve().parent / "catalogue"
FORBIDDEN = ("Traceback", "internal error", "Error executing tool")


def _load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for path in sorted(CATALOGUE.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            ident = f"{path.stem}:{case['id']}"
            assert ident not in seen, f"duplicate case id {ident}"
            seen.add(ident)
            cases.append((ident, case))
    return cases


CASES = _load_cases()


def _write_file(folder: Path, name: str, spec: Any) -> None:
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(spec, str):
        spec = {"text": spec}
    if "generate" in spec:
        getattr(catalogue_gen, spec["generate"])(target, **spec.get("args", {}))
        return
    if "b64" in spec:
        target.write_bytes(base64.b64decode(spec["b64"]))
        return
    if "copy" in spec:
        target.write_bytes((CATALOGUE.parent / spec["copy"]).read_bytes())
        return
    text = spec["text"]
    encoding = spec.get("encoding", "utf-8")
    data = text.encode(encoding)
    if spec.get("bom"):
        boms = {"utf-8": b"\xef\xbb\xbf", "utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
        data = boms[encoding] + data  # Python's "utf-16" codec writes its own BOM
    if spec.get("crlf"):
        data = data.replace(b"\n", b"\r\n")
    target.write_bytes(data)


def _fill(value: Any, folder: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{dir}", str(folder))
    if isinstance(value, list):
        return [_fill(v, folder) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, folder) for k, v in value.items()}
    return value


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, list):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise AssertionError(f"no {dotted!r} in the result (stopped at {part!r})")
    return data


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under the folder, with the bytes of regular files (FIFOs and folders as None)."""
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        found[rel] = path.read_bytes() if path.is_file() and not path.is_fifo() else None
    return found


def _run_cli(argv: list[str], folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    old = Path.cwd()
    os.chdir(folder)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("ident", "case"), CASES, ids=[c[0] for c in CASES])
def test_catalogue_case(
    ident: str, case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    for name, spec in (case.get("files") or {}).items():
        _write_file(folder, name, spec)
    before = _snapshot(folder)
    expect = case.get("expect", {})

    if "cli" in case:
        code, out, err = _run_cli([str(a) for a in _fill(case["cli"], folder)], folder, capsys)
        failed = code != 0
        assert code == expect.get("exit", 0), f"{ident}: exit {code}; stderr: {err.strip()}"
        message, result_text = err, out
        result: Any = None
        if expect.get("json"):
            result = json.loads(out)
    else:
        spec = case["mcp"]
        tool_result = call(
            server_in(folder, **spec.get("config", {})),
            spec["tool"],
            _fill(spec.get("arguments", {}), folder),
        )
        failed = bool(tool_result.is_error)
        text = " ".join(getattr(block, "text", "") for block in tool_result.content)
        assert failed == bool(expect.get("error", False)), f"{ident}: is_error={failed}: {text[:500]}"
        message = text
        result = tool_result.structured_content
        result_text = json.dumps(result) if result is not None else text

    everything = message + "\n" + result_text
    for bad in FORBIDDEN:
        assert bad not in everything, f"{ident}: {bad!r} in the output: {everything[:800]}"
    if failed:
        assert "\n" not in message.strip(), f"{ident}: the error is more than one line: {message!r}"
    for words in expect.get("message", []):
        assert words.lower() in message.lower(), f"{ident}: {words!r} not in the message {message.strip()!r}"
    for words in expect.get("absent", []):
        assert words not in everything, f"{ident}: {words!r} must not appear: {everything[:800]}"
    for dotted, value in (expect.get("json") or {}).items():
        got = _lookup(result, dotted)
        if isinstance(value, float):
            assert got == pytest.approx(value, abs=1e-9), f"{ident}: {dotted} = {got!r}, expected {value!r}"
        else:
            assert got == value, f"{ident}: {dotted} = {got!r}, expected {value!r}"

    after = _snapshot(folder)
    for name, checks in (expect.get("files") or {}).items():
        assert name in after and after[name] is not None, (
            f"{ident}: no output file {name}; have {sorted(after)}"
        )
        text = (after[name] or b"").decode("utf-8", errors="replace")
        for words in checks.get("contains", []):
            assert words in text, f"{ident}: {name} lacks {words!r}"
        for words in checks.get("absent", []):
            assert words not in text, f"{ident}: {name} must not hold {words!r}"
    changed = set(expect.get("changed", []))
    for name, data in before.items():
        if name not in changed:
            assert after.get(name) == data, f"{ident}: the input {name} was changed or removed"
    if failed:
        new = sorted(set(after) - set(before))
        assert not new, f"{ident}: a refused run left {new} behind"
