"""The semantic commands: ``trace``, ``verify`` and ``diff`` (DESIGN §3 contract).

Thin click commands over :mod:`meshmigrate.trace`, :mod:`meshmigrate.verify` and
:mod:`meshmigrate.diff`; rendering lives in :mod:`meshmigrate.report_diff`. Errors are
raised, never printed: the error boundary in :mod:`meshmigrate.cli` turns them into exit
codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from meshmigrate import trace as tracing
from meshmigrate.cli_kube import ClusterSpec, connection_options, kube_for
from meshmigrate.cliutil import AppContext, app, files_option
from meshmigrate.diff import diff_against, read_cluster_targets
from meshmigrate.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.report_diff import (
    DIFF_RENDERERS,
    render_trace_text,
    render_verify_json,
    render_verify_text,
)
from meshmigrate.sources import Document, load
from meshmigrate.targets import CHANNELS, DEFAULT_VERSION, TARGETS
from meshmigrate.trace import parse_request, plain
from meshmigrate.verify import VerifyReport, verify_model

F = TypeVar("F", bound=Callable[..., Any])


def conversion_options(fn: F) -> F:
    """``--source/--target/--gateway-api/--channel``: how the source is converted."""
    for opt in reversed([
        click.option("--source", default="auto", show_default=True,
                     help="Source format: auto or an installed converter name."),
        click.option("--target", type=click.Choice(TARGETS), default="generic",
                     show_default=True, help="Mesh implementation the routes are for."),
        click.option("--gateway-api", "gateway_api", default=DEFAULT_VERSION,
                     show_default=True, metavar="vX.Y", help="Gateway API version."),
        click.option("--channel", type=click.Choice(CHANNELS), default="standard",
                     show_default=True, help="Gateway API CRD channel installed.")]):
        fn = opt(fn)
    return fn


def load_input(a: AppContext, files: Sequence[str], what: str = "-f") -> list[Document]:
    if not files:
        raise UsageError(f"no input; use {what} FILE|DIR|-")
    return load(files, a.stdin)


def verify_sources(docs: list[Document], against: list[Document] | None,
                   **options: Any) -> VerifyReport:
    """The source configs in ``docs`` against their own conversion or ``against``."""
    conversion = ConvertOptions(**options, verify=False)
    result = convert_documents(docs, conversion)
    targets = result.objects if against is None else [plain(d.obj) for d in against]
    return verify_model(result.model, targets, profile=conversion.profile())


@click.command("trace")
@files_option()
@click.option("--request", "request_text", required=True, metavar='"METHOD URL"',
              help='The request, e.g. "GET http://reviews.bookinfo:9080/v2".')
@click.option("-H", "--header", "headers", multiple=True, metavar='"Name: value"',
              help="A request header. Repeatable.")
@click.option("--from-namespace", default="default", show_default=True,
              help="The client's namespace (also resolves a bare Service name).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@conversion_options
@click.pass_context
def trace_cmd(ctx: click.Context, /, files: tuple[str, ...], request_text: str,
              headers: tuple[str, ...], from_namespace: str, output: str,
              **options: Any) -> None:
    """Follow one request through the source configs and through Gateway API routes."""
    a = app(ctx)
    request = parse_request(request_text, headers, from_namespace)
    result = tracing.trace(load_input(a, files), request, ConvertOptions(**options))
    text = json.dumps(result, indent=2) + "\n" if output == "json" else render_trace_text(
        result)
    a.stdout.write(text)


@click.command("verify")
@files_option()
@click.option("--against", multiple=True, metavar="TARGET",
              help="Gateway API objects to check instead of the conversion. Repeatable.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@conversion_options
@click.pass_context
def verify_cmd(ctx: click.Context, /, files: tuple[str, ...], against: tuple[str, ...],
               output: str, **options: Any) -> None:
    """Check that Gateway API routes behave like the source configs; exit 1 when some
    request behaves differently (each one is listed with both outcomes)."""
    a = app(ctx)
    docs = load_input(a, files)
    targets = load(against, a.stdin) if against else None
    report = verify_sources(docs, targets, **options)
    a.stdout.write(render_verify_json(report) if output == "json"
                   else render_verify_text(report))
    ctx.exit(EXIT_OK if report.equivalent else EXIT_FINDINGS)


@click.command("diff")
@files_option()
@click.option("--against", "against_dir", metavar="DIR",
              help="Directory (or files) holding the current Gateway API objects.")
@click.option("--against-cluster", is_flag=True,
              help="Compare with the live cluster (the namespaces of the source objects).")
@click.option("--format", "fmt", type=click.Choice(sorted(DIFF_RENDERERS)), default="text",
              show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything differs.")
@conversion_options
@connection_options
@click.pass_context
def diff_cmd(ctx: click.Context, /, files: tuple[str, ...], against_dir: str | None,
             against_cluster: bool, fmt: str, exit_code: bool, cluster: ClusterSpec,
             **options: Any) -> None:
    """Structural and semantic diff of the conversion against DIR or the cluster."""
    a = app(ctx)
    if bool(against_dir) == against_cluster:
        raise UsageError("diff: give exactly one of --against DIR or --against-cluster")
    docs = load_input(a, files)
    existing = (cluster_objects(a, cluster, docs) if against_cluster
                else load([str(against_dir)], a.stdin))
    conversion = ConvertOptions(**options, verify=False)
    result = convert_documents(docs, conversion)
    report = diff_against(result.model, result.objects, existing, conversion.profile())
    a.stdout.write(DIFF_RENDERERS[fmt](report))
    ctx.exit(EXIT_FINDINGS if exit_code and not report.clean else EXIT_OK)


def cluster_objects(a: AppContext, cluster: ClusterSpec,
                    docs: list[Document]) -> list[Document]:
    """The live mesh routes and meshmigrate-made Services in the source's namespaces."""
    namespaces = sorted({d.namespace() for d in docs})
    return read_cluster_targets(kube_for(a, cluster), namespaces)


# The names meshmigrate.cli registers.
trace = trace_cmd
verify = verify_cmd
diff = diff_cmd
