"""``meshmigrate apply``, ``rollback`` and ``history`` (thin click commands over
:mod:`meshmigrate.kube`), and the ``--from-cluster`` options other commands reuse.

Wiring ``--from-cluster`` into another command::

    @cli.command()
    @files_option()
    @cluster_options
    def convert(ctx, files, cluster: ClusterSpec, ...):
        docs, read_findings = load_documents(app(ctx), files, cluster)
        result = convert_documents(docs, options)
        result.findings.extend(read_findings)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from meshmigrate.cliutil import AppContext, app, files_option
from meshmigrate.errors import EXIT_FINDINGS, ClusterError, UsageError
from meshmigrate.findings import Findings
from meshmigrate.kube.apply import ApplyOptions, execute, prepare, server_dry_run
from meshmigrate.kube.client import Kube, connect
from meshmigrate.kube.journal import ClusterStore, Journal, LocalStore, Record, State
from meshmigrate.kube.objects import ObjRef
from meshmigrate.kube.plan import Plan, render_plan
from meshmigrate.kube.read import read_sources
from meshmigrate.kube.rollback import run_rollback
from meshmigrate.kube.wait import parse_wait
from meshmigrate.pipeline import ConvertOptions, ConvertResult, convert_documents
from meshmigrate.progress import Progress
from meshmigrate.report import RENDERERS, fails, summary
from meshmigrate.sources import Document, load
from meshmigrate.targets import CHANNELS, DEFAULT_VERSION, TARGETS

PROGRESS_MIN = 20  # fewer objects than this: no progress output


# ---- options shared with other commands --------------------------------------------------
@dataclass(frozen=True)
class ClusterSpec:
    """Where to read from: ``--from-cluster`` with ``-n NS``/``-A``, ``--context``,
    ``--kubeconfig``."""

    from_cluster: bool = False
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    context: str | None = None
    kubeconfig: str | None = None

    def scope(self, kube: Kube) -> list[str] | None:
        """Namespaces to read (None: all); default: the context's namespace."""
        if self.all_namespaces:
            return None
        return list(self.namespaces) or [kube.namespace]


def connection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--context`` and ``--kubeconfig``, passed on as ``cluster: ClusterSpec``."""
    return _cluster_decorator(fn, reading=False)


def cluster_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--from-cluster``, ``-n/--namespace`` (repeatable), ``-A/--all-namespaces``,
    ``--context``, ``--kubeconfig``, passed on as one ``cluster: ClusterSpec`` argument."""
    return _cluster_decorator(fn, reading=True)


def _cluster_decorator(fn: Callable[..., Any], reading: bool) -> Callable[..., Any]:
    names = ("from_cluster", "namespaces", "all_namespaces", "context", "kubeconfig")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {n: kwargs.pop(n) for n in names if n in kwargs}
        spec = ClusterSpec(**values)
        if not spec.from_cluster and (spec.namespaces or spec.all_namespaces):
            raise UsageError("-n/--namespace and -A/--all-namespaces need --from-cluster")
        return fn(*args, cluster=spec, **kwargs)

    options = [
        click.option("--context", help="Kubeconfig context (default: the current one)."),
        click.option("--kubeconfig", type=click.Path(dir_okay=False),
                     help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."),
    ]
    if reading:
        options = [
            click.option("--from-cluster", is_flag=True,
                         help="Read the source objects from the cluster instead of -f."),
            click.option("-n", "--namespace", "namespaces", multiple=True, metavar="NS",
                         help="Namespace to read (repeatable; default: the context's)."),
            click.option("-A", "--all-namespaces", is_flag=True,
                         help="Read every namespace."),
            *options]
    for opt in reversed(options):
        wrapper = opt(wrapper)
    return wrapper


def kube_for(a: AppContext, cluster: ClusterSpec) -> Kube:
    """The cluster client: ``a.kube`` when a test put one there (a Kube, or a factory
    taking (kubeconfig, context)), else one made from the kubeconfig."""
    if isinstance(a.kube, Kube):
        return a.kube
    kube = a.kube(cluster.kubeconfig, cluster.context) if callable(a.kube) else connect(
        cluster.kubeconfig, cluster.context)
    a.kube = kube
    return kube


def load_documents(a: AppContext, files: tuple[str, ...],
                   cluster: ClusterSpec) -> tuple[list[Document], Findings]:
    """The input documents, from ``-f`` or ``--from-cluster`` (with the findings of the
    read: kinds not installed)."""
    findings = Findings()
    if cluster.from_cluster and files:
        raise UsageError("use either -f or --from-cluster, not both")
    if cluster.from_cluster:
        kube = kube_for(a, cluster)
        return read_sources(kube, cluster.scope(kube), findings), findings
    if not files:
        raise UsageError("no input; use -f FILE|DIR|- or --from-cluster")
    return load(files, a.stdin), findings


def state_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--state-dir", type=click.Path(file_okay=False), envvar=
                        "MESHMIGRATE_STATE_DIR", help="Local migration records (default: "
                        "${XDG_STATE_HOME:-~/.local/state}/meshmigrate/migrations).")(fn)


def journal_for(a: AppContext, kube: Kube | None, state_dir: str | None) -> Journal:
    local = LocalStore(Path(state_dir) if state_dir else None)
    return Journal(local, ClusterStore(kube) if kube else None, a.err)


def progress_for(a: AppContext) -> Callable[[int, str], Progress]:
    return lambda total, label: Progress(a.stderr, total, label, enabled=total >= PROGRESS_MIN)


# ---- apply -----------------------------------------------------------------------------
def _convert_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The conversion options of ``convert`` (same names and defaults). Not imported from
    :mod:`meshmigrate.cli`: that module imports this one while it is being initialised."""
    for opt in reversed([
        click.option("--source", default="auto", show_default=True,
                     help="Source format: auto or an installed converter name."),
        click.option("--target", type=click.Choice(TARGETS), default="generic",
                     show_default=True, help="Mesh implementation the routes are for."),
        click.option("--gateway-api", "gateway_api", default=DEFAULT_VERSION,
                     show_default=True, metavar="vX.Y", help="Gateway API version."),
        click.option("--channel", type=click.Choice(CHANNELS), default="standard",
                     show_default=True, help="Gateway API CRD channel installed."),
        click.option("--fail-on", type=click.Choice(["error", "warning", "never"]),
                     default="error", show_default=True,
                     help="Refuse to apply when a finding is at or over this severity."),
        click.option("--no-verify", is_flag=True, help="Skip the semantic self-check.")]):
        fn = opt(fn)
    return fn


@click.command("apply")
@files_option()
@cluster_options
@_convert_options
@click.option("-y", "--yes", is_flag=True, help="Apply without asking.")
@click.option("--dry-run", type=click.Choice(["none", "server"]), default="none",
              show_default=True, help="server: validate and admit everything, persist nothing.")
@click.option("--cutover", is_flag=True, help="Delete the source routing objects afterwards.")
@click.option("--wait", "wait", default="0s", show_default=True, metavar="DUR",
              help="Wait this long for each route to be Accepted (0s: do not wait).")
@click.option("--force-conflicts", is_flag=True, help="Take over fields other managers own.")
@state_dir_option
@click.pass_context
def apply_cmd(ctx: click.Context, /, files: tuple[str, ...], cluster: ClusterSpec, yes: bool,
              dry_run: str, cutover: bool, wait: str, force_conflicts: bool,
              state_dir: str | None, fail_on: str, **convert: Any) -> None:
    """Apply the converted routes to the cluster (server-side apply), optionally cut over."""
    a = app(ctx)
    opts = ApplyOptions(dry_run == "server", cutover, parse_wait(wait), force_conflicts)
    kube = kube_for(a, cluster)
    result = _convert(a, files, cluster, convert)
    plan = prepare(kube, result.objects, source_refs(result, kube), opts)
    _report(a, result, plan, fail_on)
    a.stdout.write(render_plan(plan))
    if plan.empty:
        a.err("nothing to do: the cluster already matches")
        return
    if opts.dry_run:
        _dry_run(a, kube, plan, opts)
        return
    _confirm(a, yes)
    record = execute(kube, journal_for(a, kube, state_dir), plan, opts, progress_for(a))
    a.err(f"migration {record.id}: {record.state.value} ({len(record.entries)} object(s)); "
          f"undo with: meshmigrate rollback {record.id}")


def _convert(a: AppContext, files: tuple[str, ...], cluster: ClusterSpec,
             convert: dict[str, Any]) -> ConvertResult:
    docs, read_findings = load_documents(a, files, cluster)
    options = ConvertOptions(convert["source"], convert["target"], convert["gateway_api"],
                             convert["channel"], verify=not convert["no_verify"])
    result = convert_documents(docs, options)
    result.findings.extend(read_findings)
    return result


def source_refs(result: ConvertResult, kube: Kube) -> list[ObjRef]:
    return [ObjRef.of(d.obj, d.namespace(kube.namespace)) for d in result.model.sources]


def _report(a: AppContext, result: ConvertResult, plan: Plan, fail_on: str) -> None:
    for ref, why in plan.kept:
        doc = next((d for d in result.model.sources if d.kind == ref.kind and d.name ==
                    ref.name and d.namespace() == ref.namespace), None)
        result.findings.add("SOURCE_KEPT_AT_CUTOVER", doc, (), f"kept: {why}")
    counts = summary(result.findings, len(result.docs), len(result.objects))
    a.stderr.write(RENDERERS["text"](result.findings, counts))
    if fails(result.findings, fail_on):
        a.err(f"error: not applying: findings at or over --fail-on {fail_on} (the routes "
              "would behave differently); fix them or pass --fail-on never")
        raise click.exceptions.Exit(EXIT_FINDINGS)


def _dry_run(a: AppContext, kube: Kube, plan: Plan, opts: ApplyOptions) -> None:
    errors = server_dry_run(kube, plan, opts, progress_for(a))
    for line in errors:
        a.err(f"error: {line}")
    total = sum(1 for s in plan.steps if s.touches)
    if errors:
        raise ClusterError(f"dry run: the apiserver refused {len(errors)} of {total} "
                           "object(s); nothing was changed")
    a.err(f"dry run: the apiserver accepted all {total} object(s); nothing was changed")


def _confirm(a: AppContext, yes: bool) -> None:
    if yes:
        return
    a.stderr.write("Apply this plan? [y/N] ")
    a.stderr.flush()
    answer = a.stdin.readline()
    if not answer:
        raise UsageError("no answer to the confirmation (stdin is closed or used for -f -); "
                         "pass --yes to apply without asking; nothing was changed")
    if answer.strip().lower() not in ("y", "yes"):
        raise click.Abort()


# ---- rollback and history ----------------------------------------------------------------
@click.command("rollback")
@click.argument("migration_id", required=False)
@click.option("--force", is_flag=True, help="Overwrite changes others made since.")
@connection_options
@state_dir_option
@click.pass_context
def rollback_cmd(ctx: click.Context, migration_id: str | None, force: bool,
                 cluster: ClusterSpec, state_dir: str | None) -> None:
    """Restore the state before migration MIGRATION_ID (default: the latest)."""
    a = app(ctx)
    kube = kube_for(a, cluster)
    journal = journal_for(a, kube, state_dir)
    record = find_record(journal, kube, migration_id)
    if record.state is State.ROLLED_BACK:
        a.err(f"migration {record.id} is already rolled back; nothing to do")
        return
    with progress_for(a)(len(record.entries), "rollback") as bar:
        count = run_rollback(kube, journal, record, force, bar.advance)
    a.err(f"rolled back migration {record.id}: {count} object(s) restored, "
          f"{len(record.entries) - count} already as before")


def find_record(journal: Journal, kube: Kube, migration_id: str | None) -> Record:
    if migration_id:
        record = journal.load(migration_id)
    else:
        latest = journal.records(kube.server)
        record = journal.load(latest[0].id) if latest else None
    if record is None:
        raise UsageError(f"no migration {migration_id or 'recorded'} for {kube.server}")
    if record.server and record.server != kube.server:
        raise UsageError(f"migration {record.id} was made on {record.server}, not on "
                         f"{kube.server}: choose that cluster with --context/--kubeconfig")
    return record


@click.command("history")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@connection_options
@state_dir_option
@click.pass_context
def history_cmd(ctx: click.Context, output: str, cluster: ClusterSpec,
                state_dir: str | None) -> None:
    """List the migrations (local records and those stored in the cluster)."""
    a = app(ctx)
    try:
        kube: Kube | None = kube_for(a, cluster)
    except (UsageError, ClusterError) as exc:
        a.err(f"warning: {exc.one_line()}; showing local records only")
        kube = None
    records = journal_for(a, kube, state_dir).records(kube.server if kube else None)
    if output == "json":
        a.stdout.write(json.dumps([r.summary() for r in records], indent=2) + "\n")
        return
    for r in records:
        a.stdout.write(history_line(r) + "\n")


def history_line(record: Record) -> str:
    counts = {k: sum(1 for e in record.entries if e.action == k)
              for k in ("create", "change", "delete")}
    return (f"{record.id}  {record.time}  {record.state.value:<12} "
            f"+{counts['create']} ~{counts['change']} -{counts['delete']}  "
            f"{','.join(record.namespaces) or '-'}" + (f"  ({record.error})" if
                                                        record.error else ""))


apply = apply_cmd
rollback = rollback_cmd
history = history_cmd
