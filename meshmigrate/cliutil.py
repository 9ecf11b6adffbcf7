"""Shared plumbing for the click commands: the context object, common options, the single
error boundary that turns exceptions into exit codes (DESIGN §3)."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import click

from meshmigrate.errors import EXIT_INTERNAL, MeshMigrateError

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


def write_traceback(exc: BaseException) -> str:
    """Write the traceback to a file and return its path."""
    fd, path = tempfile.mkstemp(prefix="meshmigrate-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        traceback.print_exception(exc, file=fh)
    return path


def run_guarded(main: Callable[[], int], stderr: IO[str], debug: bool) -> int:
    """The one error boundary: user errors -> one line and their exit code; anything else is
    a bug -> exit 4 with where the traceback went (or the traceback with --debug)."""
    try:
        return main()
    except MeshMigrateError as exc:
        print(f"error: {exc.one_line()}", file=stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show(file=stderr)
        return exc.exit_code
    except click.exceptions.Abort:
        print("aborted", file=stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=stderr)
        return 130
    except BrokenPipeError:
        return 0
    except RecursionError:
        print("error: input is nested too deeply", file=stderr)
        return 2
    except MemoryError:
        print("error: input is too large to process", file=stderr)
        return 2
    except Exception as exc:  # the internal-error boundary
        if debug:
            traceback.print_exception(exc, file=stderr)
        else:
            path = write_traceback(exc)
            print(f"internal error: {type(exc).__name__}: {exc}; traceback written to {path} "
                  "(rerun with --debug to print it)", file=stderr)
        return EXIT_INTERNAL
