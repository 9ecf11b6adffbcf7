"""Apply a plan: server-side apply of the targets, optional wait, optional cutover; on any
failure (including SIGTERM or Ctrl-C) an automatic rollback, then a one-line ClusterError.

Sequence: preflight (kinds served, RBAC) -> journal written locally and in the cluster (the
full prior state of every object touched) -> ``applying``: each target applied with field
manager ``meshmigrate`` (Services first, then routes; in parallel within each group), each
finished step logged -> ``applied`` -> ``--wait`` -> ``cutover``: sources deleted one by one
in the order :mod:`.cutover` gives, each with its prior resourceVersion as precondition ->
``done``.

A change of an existing object carries its planned resourceVersion as an optimistic lock,
and a cutover delete its precondition, so an edit made by someone else between the plan and
the write stops the migration (and rolls it back) instead of being overwritten; a change
to ``status`` alone (a controller) is not an edit and is taken in stride.

Test hook (used by the fault tests, documented in docs/live-migration.md): with
``MESHMIGRATE_TEST_PAUSE_AFTER=N`` the apply runs one object at a time and, after the N-th,
prints ``meshmigrate: test hook: paused after N objects`` on stderr and sleeps
``MESHMIGRATE_TEST_PAUSE_SECONDS`` (default 600) before going on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from meshmigrate.errors import ClusterError
from meshmigrate.kube.client import Kube, KubeError
from meshmigrate.kube.journal import Entry, Journal, Record, State, new_id
from meshmigrate.kube.live import read_live
from meshmigrate.kube.objects import Obj, ObjRef, fingerprint, resource_version
from meshmigrate.kube.plan import Action, Phase, Plan, Step, make_plan
from meshmigrate.kube.preflight import check_access, check_served
from meshmigrate.kube.rollback import RollbackRefused, run_rollback
from meshmigrate.kube.wait import wait_accepted
from meshmigrate.progress import Progress

Tick = Callable[[int], None]
ProgressFactory = Callable[[int, str], Progress]
KIND_BATCH = {"Service": 0}


@dataclass
class ApplyOptions:
    dry_run: bool = False
    cutover: bool = False
    wait_s: float = 0.0
    force_conflicts: bool = False
    concurrency: int = 8


class Terminated(BaseException):
    """SIGTERM arrived during a migration (handled like Ctrl-C: roll back)."""


# ---- planning --------------------------------------------------------------------------
def prepare(kube: Kube, targets: list[Obj], sources: list[ObjRef],
            options: ApplyOptions) -> Plan:
    """Check the target kinds are served and plan against the live objects."""
    target_refs = [ObjRef.of(o) for o in targets]
    check_served(kube, target_refs)
    served = [r for r in sources if kube.resource(r.api_version, r.kind) is not None]
    live = read_live(kube, target_refs + (served if options.cutover else []))
    return make_plan(targets, sources if options.cutover else [], live, options.cutover)


def server_dry_run(kube: Kube, plan: Plan, options: ApplyOptions,
                   progress: ProgressFactory | None = None) -> list[str]:
    """Send every step through validation and admission with ``dryRun=All``; the errors."""
    errors: list[str] = []
    steps = [s for s in plan.steps if s.touches]
    bar = progress(len(steps), "dry run") if progress else None
    for step in steps:
        try:
            if step.action is Action.DELETE:
                kube.delete(step.ref, resource_version=resource_version(step.prior),
                            dry_run=True)
            elif step.desired is not None:
                kube.apply(step.desired, force=options.force_conflicts, dry_run=True)
        except KubeError as exc:
            errors.append(describe(exc, step.ref))
        if bar:
            bar.advance()
    if bar:
        bar.close()
    return errors


def describe(exc: KubeError, ref: ObjRef) -> str:
    """One line for an apiserver refusal; field conflicts say how to take the fields over."""
    conflicts = [f"{c.get('field', '')} ({c.get('message', '')})" for c in exc.causes
                 if "FieldManagerConflict" in (c.get("reason"), c.get("type"))]
    if exc.status == 409 and conflicts:
        return (f"{ref}: conflicts with another field manager: {'; '.join(conflicts)} "
                "(re-run with --force-conflicts to take these fields over)")
    if exc.status == 403:
        return f"{ref}: forbidden: {exc.message}"
    if exc.status in (400, 422):
        return f"{ref}: rejected by the apiserver: {exc.message}"
    return exc.one_line()


# ---- the record ----------------------------------------------------------------------
def new_record(kube: Kube, plan: Plan, options: ApplyOptions) -> Record:
    entries = [Entry(s.ref, s.action.value, s.phase.value, s.prior, s.desired)
               for s in plan.steps if s.touches]
    namespaces = sorted({e.ref.namespace for e in entries if e.ref.namespace})
    opts = {"cutover": options.cutover, "wait_s": options.wait_s,
            "force_conflicts": options.force_conflicts}
    when = datetime.now(UTC)
    return Record(new_id(when), when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), kube.server, namespaces,
                  entries, State.PLANNED, kube.context, opts)


def execute(kube: Kube, journal: Journal, plan: Plan, options: ApplyOptions,
            progress: ProgressFactory) -> Record:
    """Run the migration; on failure roll back and raise ClusterError (exit 3)."""
    check_access(kube, plan)
    record = new_record(kube, plan, options)
    journal.begin(record)
    runner = Runner(kube, journal, record, options, progress)
    with signals_as_errors():
        try:
            runner.run()
        except (Exception, KeyboardInterrupt, Terminated) as exc:
            raise runner.recover(exc) from None
    return record


@contextlib.contextmanager
def signals_as_errors() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread (once; a second one kills)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Runner:
    def __init__(self, kube: Kube, journal: Journal, record: Record, options: ApplyOptions,
                 progress: ProgressFactory) -> None:
        self.kube, self.journal, self.record = kube, journal, record
        self.options, self.progress = options, progress
        self.pause_after = _env_int("MESHMIGRATE_TEST_PAUSE_AFTER")
        self.applied = 0
        self._lock = threading.Lock()

    def indices(self, phase: Phase) -> list[int]:
        return [i for i, e in enumerate(self.record.entries) if e.phase == phase.value]

    def run(self) -> None:
        self.journal.set_state(self.record, State.APPLYING)
        self.apply_all(self.indices(Phase.APPLY))
        self.journal.set_state(self.record, State.APPLIED)
        if self.options.wait_s > 0:
            self.wait()
        cutover = self.indices(Phase.CUTOVER)
        if cutover:
            self.journal.set_state(self.record, State.CUTOVER)
            with self.progress(len(cutover), "cutover") as bar:
                for index in cutover:
                    self.delete_one(index)
                    bar.advance()
        self.journal.set_state(self.record, State.DONE)

    # ---- apply -------------------------------------------------------------------------
    def apply_all(self, indices: list[int]) -> None:
        batches: dict[int, list[int]] = {}
        for i in indices:
            batches.setdefault(KIND_BATCH.get(self.record.entries[i].ref.kind, 1), []).append(i)
        workers = 1 if self.pause_after is not None else max(1, self.options.concurrency)
        with self.progress(len(indices), "apply") as bar:
            for rank in sorted(batches):
                run_parallel(batches[rank], self.apply_one, workers, bar.advance)

    def apply_one(self, index: int) -> None:
        entry = self.record.entries[index]
        out = self._apply(entry, index)
        self.journal.step_done(self.record, index, {"resourceVersion": resource_version(out),
                                                    "fingerprint": fingerprint(out)})
        self._maybe_pause()

    def _apply(self, entry: Entry, index: int, retried: bool = False) -> Obj:
        body = dict(entry.desired or {})
        if entry.prior is not None:  # optimistic lock: the object as planned
            body["metadata"] = {**body["metadata"],
                                "resourceVersion": resource_version(entry.prior)}
        try:
            return self.kube.apply(body, force=self.options.force_conflicts)
        except KubeError as exc:
            if exc.status == 409 and not exc.causes and not retried:
                self._refresh_prior(entry, index)
                return self._apply(entry, index, retried=True)
            raise ClusterError(describe(exc, entry.ref)) from None

    def _refresh_prior(self, entry: Entry, index: int) -> None:
        """The object moved on since the plan: fine if only its status changed."""
        current = self.kube.get(entry.ref)
        if current is None or fingerprint(current) != fingerprint(entry.prior):
            raise ClusterError(f"{entry.ref} was changed by someone else after the plan was "
                               "made; not overwritten")
        entry.prior = current
        self.journal.local.log(self.record.id, {"i": index, "prior": current})

    def _maybe_pause(self) -> None:
        with self._lock:
            self.applied += 1
            hit = self.applied == self.pause_after
        if hit:
            print(f"meshmigrate: test hook: paused after {self.applied} objects",
                  file=sys.stderr, flush=True)
            time.sleep(float(os.environ.get("MESHMIGRATE_TEST_PAUSE_SECONDS", "600")))

    # ---- wait and cutover ----------------------------------------------------------------
    def wait(self) -> None:
        refs = [self.record.entries[i].ref for i in self.indices(Phase.APPLY)]
        with self.progress(len(refs), "wait for Accepted") as bar:
            wait_accepted(self.kube, refs, self.options.wait_s, bar.advance)

    def delete_one(self, index: int, retried: bool = False) -> None:
        entry = self.record.entries[index]
        try:
            self.kube.delete(entry.ref, resource_version=resource_version(entry.prior))
        except KubeError as exc:
            if exc.status != 409 or retried:
                raise ClusterError(describe(exc, entry.ref)) from None
            self._refresh_prior(entry, index)
            self.delete_one(index, retried=True)
            return
        self.journal.step_done(self.record, index, {"resourceVersion": None,
                                                    "fingerprint": None})

    # ---- failure -----------------------------------------------------------------------
    def recover(self, exc: BaseException) -> ClusterError:
        """Roll back after ``exc``; the error to raise (its message says how it ended)."""
        cause = _cause(exc)
        self.record.error = cause
        rid = self.record.id
        try:
            self.journal.set_state(self.record, State.ROLLING_BACK, cause)
            with self.progress(len(self.record.entries), "rollback") as bar:
                count = run_rollback(self.kube, self.journal, self.record, tick=bar.advance)
        except RollbackRefused as refused:
            self._failed(str(refused))
            return ClusterError(f"{cause}; {refused.one_line()}")
        except (Exception, KeyboardInterrupt, Terminated) as again:
            self._failed(_cause(again))
            return ClusterError(f"{cause}; the automatic rollback did not finish "
                                f"({_cause(again)}): run 'meshmigrate rollback {rid}' once "
                                "the cluster answers")
        return ClusterError(f"{cause}; rolled back migration {rid} ({count} object(s) "
                            "restored): the cluster is as it was before")

    def _failed(self, note: str) -> None:
        with contextlib.suppress(Exception):
            self.journal.set_state(self.record, State.FAILED, note)


def _cause(exc: BaseException) -> str:
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, ClusterError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"


def run_parallel(indices: list[int], fn: Callable[[int], None], workers: int,
                 tick: Tick) -> None:
    """``fn`` over ``indices`` with ``workers`` threads; the first failure cancels what has
    not started, waits for what has, and is raised."""
    if workers == 1:
        for i in indices:
            fn(i)
            tick(1)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for future in as_completed([pool.submit(fn, i) for i in indices]):
            future.result()
            tick(1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


__all__ = ["ApplyOptions", "Plan", "Step", "execute", "prepare", "server_dry_run"]
