"""Rendering the semantic commands' results: ``trace`` and ``verify`` (text, json) and
``diff`` (text, json, markdown for a pull-request comment, JUnit XML, GitHub workflow
annotations). Every renderer returns a string and is deterministic."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from meshmigrate.diff import DiffReport, ObjectChange
from meshmigrate.semantics.outcome import Outcome
from meshmigrate.verify import Difference, VerifyReport, describe_request, summarize

_MARK = {"added": "+", "removed": "-", "changed": "~"}


# --- outcomes and differences -----------------------------------------------------------

def outcome_lines(outcome: dict[str, Any]) -> list[str]:
    """A ``trace`` outcome object as ``key: value`` lines (empty parts left out)."""
    lines = [f"status: {outcome['status']}", f"rule: {outcome['rule'] or '-'}"]
    for b in outcome["backends"]:
        lines.append(f"backend: {b['namespace']}/{b['name']}:{b['port']} weight {b['weight']}")
    for key in ("path", "host", "timeout"):
        if outcome[key] is not None:
            lines.append(f"{key}: {outcome[key]}")
    for key in ("request_headers", "response_headers", "redirect", "retry"):
        if outcome[key]:
            lines.append(f"{key}: {json.dumps(outcome[key], sort_keys=True)}")
    lines += [f"mirror: {m['namespace']}/{m['name']}:{m['port']} {m['percent']}%"
              for m in outcome["mirrors"]]
    return lines


def render_trace_text(result: dict[str, Any]) -> str:
    out: list[str] = []
    for side in ("source", "target"):
        if side in result:
            out.append(f"{side}:")
            out += [f"  {line}" for line in outcome_lines(result[side])]
    if "equivalent" in result:
        out.append(f"equivalent: {'yes' if result['equivalent'] else 'no'}")
    return "\n".join(out) + "\n"


def difference_lines(diff: Difference) -> list[str]:
    more = f" (and {diff.count - 1} more requests alike)" if diff.count > 1 else ""
    return [f"{describe_request(diff.request)}{more}: {', '.join(diff.aspects)}",
            f"    source: {describe_outcome(diff.source)}",
            f"    target: {describe_outcome(diff.target)}"]


def describe_outcome(outcome: Outcome) -> str:
    """:func:`summarize` plus the aspects a summary leaves out, when set."""
    extra = [f"host {outcome.host}"] if outcome.host is not None else []
    extra += [f"timeout {outcome.timeout}"] if outcome.timeout else []
    extra += [f"retry {outcome.retry.attempts}x{list(outcome.retry.codes)}"] if outcome.retry \
        else []
    extra += [f"mirrors {len(outcome.mirrors)}"] if outcome.mirrors else []
    return summarize(outcome) + ("; " + ", ".join(extra) if extra else "")


def verify_summary(report: VerifyReport) -> str:
    count = report.differing_requests
    verdict = ("equivalent" if report.equivalent
               else f"{count} request{'s' if count != 1 else ''} differ"
                    f"{'s' if count == 1 else ''} ({len(report.differences)} "
                    f"way{'s' if len(report.differences) != 1 else ''})")
    return (f"{verdict} ({report.services_checked} service ports, "
            f"{report.requests_evaluated} requests checked)")


def render_verify_text(report: VerifyReport) -> str:
    lines = [line for d in report.differences for line in difference_lines(d)]
    return "\n".join([*lines, verify_summary(report)]) + "\n"


def render_verify_json(report: VerifyReport) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


# --- diff: text and json ----------------------------------------------------------------

def structural_summary(report: DiffReport) -> str:
    counts = {s: len(report.by_status(s)) for s in ("changed", "added", "removed")}
    return (f"{counts['changed']} changed, {counts['added']} added, {counts['removed']} "
            f"removed, {report.unchanged} unchanged")


def _where(change: ObjectChange) -> str:
    return f" ({change.file}:{change.line})" if change.file else ""


def render_diff_text(report: DiffReport) -> str:
    lines = [f"structural: {structural_summary(report)}"]
    for change in report.changes:
        lines.append(f"{_MARK[change.status]} {change.ref}{_where(change)}")
        lines += [f"    {d}" for d in change.details]
    lines.append(f"semantic: {verify_summary(report.semantic)}")
    lines += [f"  {line}" for d in report.semantic.differences for line in difference_lines(d)]
    return "\n".join(lines) + "\n"


def render_diff_json(report: DiffReport) -> str:
    structural = {status: [c.to_json() for c in report.by_status(status)]
                  for status in ("added", "removed", "changed")}
    doc = {"structural": {**structural, "unchanged": report.unchanged},
           "semantic": report.semantic.to_json(), "clean": report.clean}
    return json.dumps(doc, indent=2) + "\n"


# --- diff: markdown (pull-request comment) ----------------------------------------------

def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_diff_markdown(report: DiffReport) -> str:
    icon = "✅" if report.clean else "⚠️"
    out = [f"### {icon} meshmigrate diff", "",
           f"**Structural:** {structural_summary(report)}  ",
           f"**Semantic:** {verify_summary(report.semantic)}", ""]
    if report.changes:
        out += ["| | object | where |", "|---|---|---|"]
        out += [f"| {c.status} | `{_md(c.ref)}` | {_md(_where(c).strip(' ()'))} |"
                for c in report.changes]
        out += [""] + [block for c in report.changes if c.patch for block in _md_patch(c)]
    if report.semantic.differences:
        out += ["| request | differs in | source | target |", "|---|---|---|---|"]
        out += [f"| `{_md(describe_request(d.request))}` | {', '.join(d.aspects)} | "
                f"{_md(describe_outcome(d.source))} | {_md(describe_outcome(d.target))} |"
                for d in report.semantic.differences]
    return "\n".join(out).rstrip("\n") + "\n"


def _md_patch(change: ObjectChange) -> list[str]:
    body = json.dumps(list(change.patch), indent=2)
    return [f"<details><summary>{change.ref}: JSON Patch</summary>", "", "```json", body,
            "```", "", "</details>", ""]


# --- diff: JUnit XML --------------------------------------------------------------------

def render_diff_junit(report: DiffReport) -> str:
    """Two suites: one test case per compared object, one per service port checked."""
    root = ET.Element("testsuites", name="meshmigrate diff")
    _junit_structural(ET.SubElement(root, "testsuite", name="structural"), report)
    _junit_semantic(ET.SubElement(root, "testsuite", name="semantic"), report.semantic)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _junit_structural(suite: ET.Element, report: DiffReport) -> None:
    for change in report.changes:
        case = ET.SubElement(suite, "testcase", classname="structural", name=change.ref)
        failure = ET.SubElement(case, "failure", message=f"{change.ref} {change.status}",
                                type=change.status)
        failure.text = "\n".join(change.details) or change.status
    if report.unchanged:
        ET.SubElement(suite, "testcase", classname="structural",
                      name=f"{report.unchanged} unchanged objects")
    _count(suite, len(report.changes) + (1 if report.unchanged else 0), len(report.changes))


def _junit_semantic(suite: ET.Element, semantic: VerifyReport) -> None:
    by_service: dict[str, list[Difference]] = {str(s): [] for s in semantic.services}
    for diff in semantic.differences:
        by_service.setdefault(str(diff.service), []).append(diff)
    for service, diffs in by_service.items():
        case = ET.SubElement(suite, "testcase", classname="semantic", name=service)
        if diffs:
            failure = ET.SubElement(case, "failure", type="semantic",
                                    message=f"{len(diffs)} requests behave differently")
            failure.text = "\n".join(line for d in diffs for line in difference_lines(d))
    _count(suite, len(by_service), sum(1 for d in by_service.values() if d))


def _count(suite: ET.Element, tests: int, failures: int) -> None:
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")


# --- diff: GitHub workflow annotations --------------------------------------------------

def _gh_escape(text: str, prop: bool = False) -> str:
    """Workflow-command escaping (``%``, CR, LF; plus ``:`` and ``,`` in properties)."""
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out


def _gh_line(level: str, message: str, title: str, file: str | None,
             line: int | None) -> str:
    props = [f"file={_gh_escape(file, True)}"] if file else []
    props += [f"line={line}"] if file and line else []
    props.append(f"title={_gh_escape(title, True)}")
    return f"::{level} {','.join(props)}::{_gh_escape(message)}"


def render_diff_github(report: DiffReport) -> str:
    """``::warning`` per structural change, ``::error`` per semantic difference (at the
    source rule that decided the request), ``::notice`` when everything matches."""
    lines = [_gh_line("warning", "\n".join([f"{c.ref} {c.status}", *c.details]),
                      f"meshmigrate: {c.ref} {c.status}", c.file, c.line)
             for c in report.changes]
    for diff, where in zip(report.semantic.differences, report.locations, strict=False):
        file, line = where if where else (None, None)
        lines.append(_gh_line("error", "\n".join(difference_lines(diff)),
                              f"meshmigrate: {', '.join(diff.aspects)} differ", file, line))
    if not lines:
        summary = _gh_escape(verify_summary(report.semantic))
        lines.append(f"::notice title=meshmigrate diff::{summary}")
    return "\n".join(lines) + "\n"


DIFF_RENDERERS: dict[str, Callable[[DiffReport], str]] = {
    "text": render_diff_text, "json": render_diff_json, "markdown": render_diff_markdown,
    "junit": render_diff_junit, "github": render_diff_github}
