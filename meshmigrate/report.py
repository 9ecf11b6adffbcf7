"""Rendering findings: text (stderr), json (DESIGN §3 contract) and markdown."""

from __future__ import annotations

import json
from typing import Any

from meshmigrate.findings import Finding, Findings, Severity


def summary(findings: Findings, objects_in: int, objects_out: int) -> dict[str, int]:
    return {"objects_in": objects_in, "objects_out": objects_out,
            "errors": findings.count(Severity.ERROR),
            "warnings": findings.count(Severity.WARNING),
            "infos": findings.count(Severity.INFO)}


def _where(f: Finding) -> str:
    loc = f.file + (f":{f.line}" if f.line else "")
    return f"{loc}: " if loc else ""


def render_text(findings: Findings, counts: dict[str, int]) -> str:
    lines = [f"{_where(f)}{f.severity}: {f.code}: {f.object} {f.field}: {f.message}".replace(
        "  ", " ") for f in findings]
    lines.append(f"{counts['objects_in']} objects in, {counts['objects_out']} out: "
                 f"{counts['errors']} errors, {counts['warnings']} warnings, "
                 f"{counts['infos']} infos")
    return "\n".join(lines) + "\n"


def render_json(findings: Findings, counts: dict[str, int]) -> str:
    """``{"findings": [...], "summary": {...}}`` exactly as ``json.dumps(doc, indent=2)``
    writes it. The findings are formatted here with the C string encoder: with ``indent``
    the json module falls back to its pure-Python encoder, which cost more than the rest of
    the report on large meshes."""
    items = [_finding_json(f) for f in findings]
    if not items:
        doc: dict[str, Any] = {"findings": [], "summary": counts}
        return json.dumps(doc, indent=2) + "\n"
    summary_text = json.dumps(counts, indent=2).replace("\n", "\n  ")
    return ('{\n  "findings": [\n' + ",\n".join(items) + '\n  ],\n  "summary": '
            + summary_text + "\n}\n")


_string = json.encoder.encode_basestring_ascii  # what json.dumps uses (ensure_ascii)


def _finding_json(f: Finding) -> str:
    """One finding as an item of the indented ``findings`` list (``Finding.to_json``)."""
    line = "null" if f.line is None else int.__repr__(f.line)
    return (f'    {{\n      "code": {_string(f.code)},\n'
            f'      "severity": {_string(str(f.severity))},\n'
            f'      "object": {_string(f.object)},\n      "field": {_string(f.field)},\n'
            f'      "file": {_string(f.file)},\n      "line": {line},\n'
            f'      "message": {_string(f.message)}\n    }}')


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(findings: Findings, counts: dict[str, int]) -> str:
    head = (f"### meshmigrate: {counts['errors']} errors, {counts['warnings']} warnings, "
            f"{counts['infos']} infos\n\n")
    if not len(findings):
        return head + "No findings.\n"
    rows = ["| severity | code | object | field | where | message |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {f.severity} | `{f.code}` | {_md_cell(f.object)} | `{_md_cell(f.field)}` | "
             f"{_md_cell(_where(f).rstrip(': '))} | {_md_cell(f.message)} |" for f in findings]
    return head + "\n".join(rows) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}


def fails(findings: Findings, fail_on: str) -> bool:
    """True when a finding is at or over ``--fail-on`` (error|warning|never)."""
    if fail_on == "never":
        return False
    worst = findings.worst()
    threshold = Severity.ERROR if fail_on == "error" else Severity.WARNING
    return worst is not None and worst >= threshold
