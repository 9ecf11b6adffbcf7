"""Exceptions that cross the error boundary in :mod:`meshmigrate.cli`.

Each carries its exit code (DESIGN §3): 2 for usage or input errors, 3 for cluster or apply
failures. Anything else that escapes is a bug and exits 4.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_CLUSTER = 3
EXIT_INTERNAL = 4


class MeshMigrateError(Exception):
    """Base class: a one-line, user-facing message and an exit code."""

    exit_code = EXIT_INTERNAL

    def one_line(self) -> str:
        return " ".join(str(self).split())


class InputError(MeshMigrateError):
    """Bad input: unreadable file, malformed YAML, wrong type, unknown version…

    The message names the file, line and field: ``file:line: field: what was expected``.
    """

    exit_code = EXIT_INPUT

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field, self.detail = file, line, field, message
        where = file or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        prefix = f"{where}: {field}: " if field else f"{where}: "
        super().__init__(prefix + message)


class UsageError(MeshMigrateError):
    exit_code = EXIT_INPUT


class ClusterError(MeshMigrateError):
    """The cluster refused, failed or vanished; the caller has already rolled back."""

    exit_code = EXIT_CLUSTER
