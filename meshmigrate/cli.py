"""The ``meshmigrate`` command line: thin click commands over the library (DESIGN §3)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, cast

import click

from meshmigrate import __version__
from meshmigrate.cli_kube import ClusterSpec, cluster_options, load_documents
from meshmigrate.cliutil import AppContext, PipeGuard, app, files_option, run_guarded
from meshmigrate.errors import EXIT_FINDINGS, EXIT_OK
from meshmigrate.pipeline import ConvertOptions, ConvertResult, convert_documents, render
from meshmigrate.registry import converters as installed_converters
from meshmigrate.report import RENDERERS, fails, summary
from meshmigrate.targets import CHANNELS, DEFAULT_VERSION, TARGETS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meshmigrate")
@click.option("--debug", is_flag=True, help="Print tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Move a service mesh's traffic routing onto the Kubernetes Gateway API (GAMMA)."""
    app(ctx).debug = debug


def convert_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--source", default="auto", show_default=True,
                     help="Source format: auto or an installed converter name."),
        click.option("--target", type=click.Choice(TARGETS), default="generic",
                     show_default=True, help="Mesh implementation the routes are for."),
        click.option("--gateway-api", "gateway_api", default=DEFAULT_VERSION,
                     show_default=True, metavar="vX.Y", help="Gateway API version (v1.2+)."),
        click.option("--channel", type=click.Choice(CHANNELS), default="standard",
                     show_default=True, help="Gateway API CRD channel installed."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


@cli.command()
@files_option()
@cluster_options
@convert_options
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
@click.option("--out-dir", type=click.Path(file_okay=False), help="Write one file per object "
              "under DIR/<namespace>/ instead of stdout.")
@click.option("--report", "report_fmt", type=click.Choice(sorted(RENDERERS)), default="text",
              show_default=True, help="Findings format (stderr, or --report-file).")
@click.option("--report-file", type=click.Path(dir_okay=False), help="Write findings here.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "never"]), default="error",
              show_default=True, help="Exit 1 when a finding is at or over this severity.")
@click.option("--no-verify", is_flag=True, help="Skip the semantic self-check.")
@click.option("--no-validate", is_flag=True,
              help="Skip validating the output against cached Gateway API CRDs.")
@click.pass_context
def convert(ctx: click.Context, files: tuple[str, ...], cluster: ClusterSpec, source: str,
            target: str, gateway_api: str, channel: str, output: str, out_dir: str | None,
            report_fmt: str, report_file: str | None, fail_on: str, no_verify: bool,
            no_validate: bool) -> None:
    """Convert mesh routing to Gateway API routes (objects on stdout, findings on stderr)."""
    a = app(ctx)
    docs, read_findings = load_documents(a, files, cluster)
    options = ConvertOptions(source, target, gateway_api, channel, verify=not no_verify)
    result = convert_documents(docs, options)
    result.findings.extend(read_findings)
    write_objects(a, result, output, out_dir)
    write_report(a, result, report_fmt, report_file)
    valid = no_validate or validate_output(result, options, a)
    ctx.exit(EXIT_FINDINGS if fails(result.findings, fail_on) or not valid else EXIT_OK)


def validate_output(result: ConvertResult, options: ConvertOptions, a: AppContext) -> bool:
    """Check the output against the cached CRDs of the chosen version and channel (a note
    says so when none are cached: ``meshmigrate crds pull``)."""
    from meshmigrate.cli_validate import self_check

    return self_check(result.objects, options.gateway_api, a.stderr, options.channel)


def write_objects(a: AppContext, result: ConvertResult, fmt: str, out_dir: str | None) -> None:
    if out_dir is None:
        a.stdout.write(render(result.objects, fmt))
        return
    for obj in result.objects:
        meta = obj["metadata"]
        path = Path(out_dir) / meta["namespace"] / f"{obj['kind'].lower()}-{meta['name']}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render([obj], fmt) if fmt == "yaml" else render_single_json(obj))


def render_single_json(obj: dict[str, object]) -> str:
    import json

    return json.dumps(obj, indent=2) + "\n"


def write_report(a: AppContext, result: ConvertResult, fmt: str, path: str | None) -> None:
    counts = summary(result.findings, len(result.docs), len(result.objects))
    text = RENDERERS[fmt](result.findings, counts)
    if path:
        Path(path).write_text(text)
    else:
        a.stderr.write(text)


@cli.command("converters")
@click.pass_context
def list_converters(ctx: click.Context) -> None:
    """List the installed converters and the kinds each reads."""
    out = app(ctx).stdout
    for name, conv in installed_converters().items():
        kinds = ", ".join(f"{k}.{g}" if g else k for (g, k) in sorted(conv.kinds))
        out.write(f"{name}\t{conv.description}\t{kinds}\n")


def _optional_commands() -> None:
    """Commands from sibling modules (each module owns its own commands)."""
    import importlib

    for module, names in (("meshmigrate.cli_semantics", ("trace", "verify", "diff")),
                          ("meshmigrate.cli_validate", ("validate", "crds")),
                          ("meshmigrate.cli_kube", ("apply", "rollback", "history"))):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        for name in names:
            found = [getattr(mod, attr, None) for attr in (name, f"{name}_cmd")]
            command = next((c for c in found if isinstance(c, click.Command)), None)
            if command is not None:
                cli.add_command(command, name)


_optional_commands()


def run(argv: list[str] | None = None, obj: AppContext | None = None) -> int:
    """Run the CLI and return the exit code (the one error boundary)."""
    context = obj or AppContext()
    args = sys.argv[1:] if argv is None else argv

    guarded = replace(context, stdout=cast(IO[str], PipeGuard(context.stdout)))

    def _main() -> int:
        rv = cli.main(args=args, prog_name="meshmigrate", obj=guarded, standalone_mode=False)
        return rv if isinstance(rv, int) else EXIT_OK

    # A short-lived command allocates millions of objects and frees few: the cyclic
    # collector's passes cost about as much as the conversion itself (bench/run.py
    # --gc-off) and reclaim nothing that matters before exit.
    gc.disable()
    try:
        return run_guarded(_main, context.stderr, "--debug" in args)
    finally:
        gc.enable()


def main() -> None:
    sys.exit(run())
