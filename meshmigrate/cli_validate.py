"""``meshmigrate validate`` and ``meshmigrate crds``: thin click commands over
:mod:`meshmigrate.validate` and :mod:`meshmigrate.crds`. ``cli.py`` adds them with
``add_command``; its error boundary turns the library's exceptions into exit codes.

``convert`` uses :func:`self_check` (and :data:`no_validate_option`) to validate its own output
whenever CRDs are available.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import click

from meshmigrate import crds, sources
from meshmigrate.cliutil import AppContext, app, files_option
from meshmigrate.errors import EXIT_FINDINGS, EXIT_OK, ClusterError, UsageError
from meshmigrate.validate import Report, Validator, validate_documents, validate_objects

no_validate_option = click.option(
    "--no-validate", is_flag=True,
    help="Do not validate the output against the Gateway API CRDs (schema + CEL rules).")


def _apiextensions() -> Any:
    """The cluster's apiextensions API, from the kubeconfig (``KUBECONFIG`` or ~/.kube)."""
    from kubernetes import client, config

    try:  # the kubernetes package reads KUBECONFIG only when imported: pass it explicitly
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=os.environ.get("KUBECONFIG") or None)
        return client.ApiextensionsV1Api(api)
    except (config.ConfigException, OSError) as exc:
        raise ClusterError(f"cannot read the cluster's CRDs: {exc}") from None


def print_report(report: Report, origin: str, output: str, io: AppContext) -> None:
    """Text: one line per error, then a summary, on stderr. JSON: one object on stdout."""
    summary = {"checked": report.checked, "errors": len(report.errors),
               "skipped": len(report.skipped), "crds": origin}
    if output == "json":
        json.dump({"errors": [e.to_json() for e in report.errors], "summary": summary,
                   "warnings": list(report.warnings)}, io.stdout, indent=2)
        io.stdout.write("\n")
        return
    for line in [*map(str, report.errors), *(f"warning: {w}" for w in report.warnings)]:
        io.err(line)
    io.err(f"validated {report.checked} object(s) against {origin}: "
           f"{len(report.errors)} error(s), {len(report.skipped)} object(s) not covered")


@click.command("validate")
@files_option(required=True)
@click.option("--crds", "crds_dir", type=click.Path(exists=True, path_type=Path),
              help="Directory (or file) of Gateway API CRD YAML files.")
@click.option("--from-cluster", is_flag=True, help="Use the cluster's CRDs (kubeconfig).")
@click.option("--gateway-api", "version", metavar="vX.Y[.Z]",
              help="Cached CRD version to use (default: the newest in the cache).")
@click.option("--channel", type=click.Choice(crds.CHANNELS),
              help="Cached CRD channel (default: standard when cached).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def validate_cmd(ctx: click.Context, files: tuple[str, ...], crds_dir: Path | None,
                     from_cluster: bool, version: str | None, channel: str | None,
                     output: str) -> None:
    """Check Gateway API objects against the real CRDs' OpenAPI schemas and CEL rules."""
    io = app(ctx)
    if crds_dir is not None and from_cluster:
        raise UsageError("--crds and --from-cluster cannot be used together")
    crd_set = crds.resolve(crds_dir, _apiextensions if from_cluster else None, version,
                           channel)
    report = validate_documents(sources.load(files, io.stdin), Validator(crd_set))
    print_report(report, crd_set.origin, output, io)
    ctx.exit(EXIT_FINDINGS if report.errors else EXIT_OK)


@click.group("crds")
def crds_cmd() -> None:
    """Fetch and list the cached Gateway API CRDs used by validate and convert."""


@crds_cmd.command("pull")
@click.argument("version")
@click.option("--channel", type=click.Choice(crds.CHANNELS), default="standard",
              show_default=True)
@click.pass_context
def pull_command(ctx: click.Context, version: str, channel: str) -> None:
    """Download a Gateway API release's CRDs (VERSION: vX.Y or vX.Y.Z) into the cache."""
    path = crds.pull(version, channel)
    app(ctx).err(f"cached Gateway API CRDs: {path}")


@crds_cmd.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """List the cached CRD versions and channels, newest first."""
    io = app(ctx)
    for version, channel in crds.cached():
        print(f"{version}\t{channel}", file=io.stdout)


def self_check(objects: Iterable[Mapping[str, Any]], version: str | None, stderr: IO[str],
               channel: str | None = "experimental") -> bool:
    """``convert``'s check of its own output against the cached CRDs of ``version`` and
    ``channel`` (default experimental, the superset; None: standard when cached). Prints the
    errors; True when valid or when no CRDs are cached (a note then says so)."""
    crd_set = crds.find_cached(version, channel) or crds.find_cached(version)
    if crd_set is None:
        print(f"note: output not validated: no Gateway API {version or ''} CRDs cached "
              "(run 'meshmigrate crds pull vX.Y.Z')", file=stderr)
        return True
    report = validate_objects(objects, crd_set)
    for error in report.errors:
        print(f"error: {error}", file=stderr)
    return report.ok
