"""``meshmigrate validate`` and ``meshmigrate crds``, run through the CLI's error boundary."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import click
import pytest

from meshmigrate import crds
from meshmigrate.cli_validate import crds_cmd, self_check, validate_cmd
from meshmigrate.cliutil import AppContext, run_guarded
from tests.test_validate_support import CORPUS, OLDEST, corpus, crd_dir, newest_version

VALID = CORPUS / "valid"
INVALID = CORPUS / "invalid"


def run(command: click.Command, *args: str, stdin: str = "") -> tuple[int, str, str]:
    ctx = AppContext(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO())

    def main() -> int:
        rv = command.main(args=list(args), obj=ctx, standalone_mode=False)
        return rv if isinstance(rv, int) else 0

    code = run_guarded(main, ctx.stderr, debug=True)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def crds_dir() -> str:
    return str(crd_dir(OLDEST, "experimental"))


def test_valid_objects_exit_0() -> None:
    newest = str(crd_dir(newest_version(), "experimental"))
    code, out, err = run(validate_cmd, "-f", str(VALID), "--crds", newest)
    assert code == 0, err
    assert out == ""
    assert err.strip() == (f"validated 9 object(s) against {newest}: 0 error(s), "
                           "0 object(s) not covered")


def test_invalid_objects_exit_1_naming_file_line_object_field_message_source(
        crds_dir: str) -> None:
    path = INVALID / "service-backend-no-port.yaml"
    code, _, err = run(validate_cmd, "-f", str(path), "--crds", crds_dir)
    assert code == 1
    assert err.splitlines()[0] == (
        f"{path}:16: HTTPRoute/bookinfo/service-backend-no-port: spec.rules[0].backendRefs[0]: "
        "Invalid value: Must have port for Service reference "
        "(from VirtualService/bookinfo/service-backend-no-port)")


def test_every_invalid_file_fails_and_json_output_lists_each_error(crds_dir: str) -> None:
    code, out, _ = run(validate_cmd, "-f", str(INVALID), "--crds", crds_dir, "-o", "json")
    assert code == 1
    report = json.loads(out)
    failing = {Path(e["file"]).name for e in report["errors"]}
    assert failing == {name for name, _ in corpus("invalid")}
    assert report["summary"]["checked"] == len(failing)
    assert set(report["errors"][0]) == {"object", "field", "reason", "message", "source",
                                        "rule", "file", "line"}


def test_stdin_and_objects_of_other_groups(crds_dir: str) -> None:
    text = (VALID / "tcproute.yaml").read_text() + "---\napiVersion: v1\nkind: Service\n" \
        "metadata: {name: mysql, namespace: bookinfo}\n"
    code, _, err = run(validate_cmd, "-f", "-", "--crds", crds_dir, stdin=text)
    assert code == 0
    assert "validated 1 object(s)" in err and "1 object(s) not covered" in err


def test_no_crds_available_exits_2_with_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code, _, err = run(validate_cmd, "-f", str(VALID))
    assert code == 2
    assert err.startswith("error: no Gateway API CRDs available (any version not in ")
    assert "--crds DIR or --from-cluster" in err


def test_unreadable_input_and_conflicting_options_exit_2(crds_dir: str) -> None:
    code, _, err = run(validate_cmd, "-f", "/nonexistent.yaml", "--crds", crds_dir)
    assert (code, err.strip()) == (2, "error: /nonexistent.yaml: no such file or directory")
    code, _, err = run(validate_cmd, "-f", str(VALID), "--crds", crds_dir, "--from-cluster")
    assert code == 2 and "cannot be used together" in err
    code, _, err = run(validate_cmd, "--crds", crds_dir)
    assert code == 2 and "Missing option '-f'" in err


def test_validate_uses_the_cache_filled_by_crds_pull(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    install = "\n---\n".join(
        p.read_text() for p in sorted(crd_dir(OLDEST, "standard").glob("*.yaml")))
    monkeypatch.setattr(crds, "_fetch", lambda url: install.encode())
    code, _, err = run(crds_cmd, "pull", OLDEST)
    assert code == 0 and "standard-install.yaml" in err
    code, out, _ = run(crds_cmd, "list")
    assert out == f"{OLDEST}\tstandard\n"
    code, _, err = run(validate_cmd, "-f", str(INVALID / "path-relative.yaml"))
    assert code == 1 and f"against cache {OLDEST}/standard" in err


def test_crds_pull_offline_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def offline(url: str) -> bytes:
        raise OSError("Network is unreachable")
    monkeypatch.setattr(crds, "_fetch", offline)
    code, _, err = run(crds_cmd, "pull", "v1.2.1", "--channel", "experimental")
    assert (code, err.strip()) == (2, "error: cannot download Gateway API v1.2.1 "
                                      "experimental CRDs: Network is unreachable")


def test_self_check_for_convert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    objects = [obj for _, obj in corpus("invalid") if obj["metadata"]["name"] ==
               "filter-repeated"]
    stderr = io.StringIO()
    assert self_check(objects, "v1.2", stderr) is True
    assert "note: output not validated: no Gateway API v1.2 CRDs cached" in stderr.getvalue()
    target = tmp_path / "meshmigrate" / "crds" / OLDEST / "experimental"
    shutil.copytree(crd_dir(OLDEST, "experimental"), target)
    stderr = io.StringIO()
    assert self_check(objects, "v1.2", stderr) is False
    assert "RequestHeaderModifier filter cannot be repeated" in stderr.getvalue()
