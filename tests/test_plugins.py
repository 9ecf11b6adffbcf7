"""A third-party converter, installed into a temporary environment, is listed and used.

The converter is the one printed in CONTRIBUTING.md, so the documentation stays true."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.golden import ROOT

SOURCE = """\
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: demo}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 8080}]
---
apiVersion: routes.example.com/v1
kind: SimpleRoute
metadata: {name: shop, namespace: demo}
spec:
  service: shop
  color: blue
  routes:
  - pathPrefix: /api/
    backend: shop-api
"""


def _contributing_code() -> tuple[str, str]:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    python = re.search(r"```python\n(.*?)```", text, re.S)
    toml = re.search(r"```toml\n(.*?)```", text, re.S)
    assert python and toml
    return python.group(1), toml.group(1)


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv that sees this meshmigrate (system site-packages) plus the example plugin."""
    tmp = tmp_path_factory.mktemp("plugin")
    code, entry_points = _contributing_code()
    pkg = tmp / "pkg"
    (pkg / "meshmigrate_simpleroute").mkdir(parents=True)
    (pkg / "meshmigrate_simpleroute" / "__init__.py").write_text(code)
    (pkg / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "meshmigrate-simpleroute"\nversion = "0.0.1"\n' + entry_points)
    env = tmp / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--no-build-isolation", "--target",
                    str(_site_packages(env)), str(pkg)], check=True)
    return env


def _site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*")) / "site-packages"


def _meshmigrate(env: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env / "bin" / "python"), "-m", "meshmigrate", *args],
                          input=stdin, capture_output=True, text=True, cwd=ROOT)


def test_plugin_is_listed(plugin_env: Path) -> None:
    out = _meshmigrate(plugin_env, "converters")
    assert out.returncode == 0, out.stderr
    assert "simpleroute\tExample SimpleRoute objects\tSimpleRoute.routes.example.com" in out.stdout
    assert "\nistio\t" in "\n" + out.stdout  # the built-ins are found the same way


def test_plugin_is_used(plugin_env: Path) -> None:
    out = _meshmigrate(plugin_env, "convert", "-f", "-", "--no-validate", "--report", "json",
                       stdin=SOURCE)
    assert out.returncode in (0, 1), out.stderr
    assert "kind: HTTPRoute" in out.stdout and "name: shop-api" in out.stdout
    assert '"FIELD_IGNORED"' in out.stderr and "spec.color" in out.stderr  # unread field


def test_plugin_absent_from_this_environment() -> None:
    from meshmigrate.registry import converters

    assert "simpleroute" not in converters()
