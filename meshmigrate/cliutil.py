"""Shared plumbing for the click commands: the context object, common options, the single
error boundary that turns exceptions into exit codes (DESIGN §3)."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import click

from meshmigrate.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, MeshMigrateError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    """Streams and the (lazily created) Kubernetes client travel here, so tests need no
    patching: they pass their own streams or client."""

    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    debug: bool = False
    kube: Any = None  # meshmigrate.kube client factory; created on first use

    def err(self, message: str) -> None:
        print(message, file=self.stderr)


class StdoutClosed(Exception):
    """The reader of stdout went away (``| head``): a broken pipe, raised as an exception
    click leaves alone (it turns an ``OSError`` with EPIPE into ``sys.exit(1)``, which reads
    as "findings", and how it does so differs between click releases)."""


class PipeGuard:
    """A stdout stream whose broken pipe surfaces as :class:`StdoutClosed`; everything
    else is the wrapped stream's."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError as exc:
            raise StdoutClosed from exc

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError as exc:
            raise StdoutClosed from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def app(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    if obj is None:
        obj = AppContext()
        ctx.obj = obj
    return obj


def files_option(required: bool = False) -> Callable[[F], F]:
    return click.option(
        "-f", "--filename", "files", multiple=True, required=required, metavar="PATH",
        help="File, directory (every *.yaml/*.yml/*.json below it) or - for stdin. Repeatable.")


#: Longest message printed for an error (a message quoting a huge input value is cut).
MAX_MESSAGE = 500


def write_traceback(exc: BaseException) -> str:
    """Write the traceback to a file and return its path."""
    fd, path = tempfile.mkstemp(prefix="meshmigrate-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        traceback.print_exception(exc, file=fh)
    return path


def one_line(text: str) -> str:
    """``text`` on one line, cut to :data:`MAX_MESSAGE` characters."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"


def run_guarded(main: Callable[[], int], stderr: IO[str], debug: bool) -> int:
    """The one error boundary: user errors -> one line and their exit code; anything else is
    a bug -> exit 4 with where the traceback went (or the traceback with --debug)."""
    try:
        return main()
    except click.ClickException as exc:  # usage errors: click's own usage text
        with contextlib.suppress(OSError, ValueError):
            exc.show(file=stderr)
        return exc.exit_code
    except SystemExit as exc:
        return _exit_code(exc, stderr)
    except (Exception, KeyboardInterrupt) as exc:  # SystemExit passes: it has its code
        code, message = classify(exc)
        if code == EXIT_INTERNAL:
            message = internal_error(exc, debug)
        _print(message, stderr)
        return code


def _exit_code(exc: SystemExit, stderr: IO[str]) -> int:
    """``sys.exit`` inside a command. Click turns a broken pipe on stdout into
    ``sys.exit(1)``, which would read as "findings" (exit 1): it is a broken pipe (exit 0)."""
    cause = exc.__context__
    if isinstance(cause, OSError) and cause.errno == errno.EPIPE:
        _silence_stdout()
        return EXIT_OK
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or EXIT_OK
    _print(one_line(f"error: {exc.code}"), stderr)
    return EXIT_INPUT


def classify(exc: BaseException) -> tuple[int, str]:
    """(exit code, message) for an exception that reached the boundary (DESIGN §3)."""
    if isinstance(exc, MeshMigrateError):
        return exc.exit_code, f"error: {one_line(str(exc))}"
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code, ""
    if isinstance(exc, click.ClickException):
        return exc.exit_code, one_line(f"error: {exc.format_message()}")
    if isinstance(exc, KeyboardInterrupt | click.exceptions.Abort):
        return 130, "interrupted"
    if isinstance(exc, BrokenPipeError | StdoutClosed):
        _silence_stdout()  # the reader went away (``| head``): nothing more to say
        return EXIT_OK, ""
    return _environment_error(exc) or (EXIT_INTERNAL, "")


def _environment_error(exc: BaseException) -> tuple[int, str] | None:
    """Failures of the machine or the user's files rather than of meshmigrate: exit 2."""
    if isinstance(exc, MemoryError):
        return EXIT_INPUT, ("error: out of memory; the input is too large for this machine "
                            "(docs/bad-input.md lists the input limits)")
    if isinstance(exc, UnicodeDecodeError):
        return EXIT_INPUT, one_line(f"error: input is not UTF-8 text ({exc.reason})")
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = (exc.strerror or type(exc).__name__).lower()
        return EXIT_INPUT, one_line(f"error: {exc.filename}: {reason}")
    return None


def internal_error(exc: BaseException, debug: bool) -> str:
    """A bug: the traceback (``--debug``) or a short message saying where it was written."""
    summary = one_line(f"internal error: {type(exc).__name__}: {exc}")
    if debug:
        return "".join(traceback.format_exception(exc)).rstrip() + "\n" + summary
    try:
        path = write_traceback(exc)
    except OSError:
        return summary + " (the traceback could not be written; rerun with --debug)"
    return f"{summary}; traceback written to {path} (rerun with --debug to print it)"


def _print(message: str, stderr: IO[str]) -> None:
    if not message:
        return
    with contextlib.suppress(OSError, ValueError):  # stderr closed: the exit code says it
        print(message, file=stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
