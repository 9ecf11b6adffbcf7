"""Fetch a published Go module into the Go module cache and return its directory.

Test infrastructure only: the product never runs Go. Used to obtain the Gateway API and
Istio CRDs (and the Kubernetes sources for the test cluster) from the Go module proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api"
ISTIO_API_MODULE = "istio.io/api"


def module_dir(module: str, version: str) -> Path:
    """Download ``module@version`` (if not cached) and return its unpacked directory."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on")
        proc = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=tmp, env=env, check=False, capture_output=True, text=True,
        )
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"go mod download {module}@{version}: {proc.stderr.strip()}") from None
    if info.get("Error") and "requires go" in info["Error"] and info.get("Zip"):
        # A module newer than the local Go toolchain is downloaded but not unpacked: its
        # files (CRD YAML here) are still usable, so unpack the zip ourselves.
        return _unpack(Path(info["Zip"]), module, version)
    if info.get("Error"):
        raise RuntimeError(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])


def _unpack(zip_path: Path, module: str, version: str) -> Path:
    base = Path(tempfile.gettempdir()) / "meshmigrate-gomod" / f"{module.replace('/', '_')}"
    target = base / version
    prefix = f"{module}@{version}/"
    if not (target / ".complete").exists():
        with zipfile.ZipFile(zip_path) as archive:
            for name in archive.namelist():
                if name.startswith(prefix) and not name.endswith("/"):
                    dest = target / name[len(prefix):]
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(archive.read(name))
        (target / ".complete").write_text("")
    return target


def gateway_api_crd_dir(version: str, channel: str = "experimental") -> Path:
    """Directory of the Gateway API CRD YAML files for ``version`` and ``channel``."""
    return module_dir(GATEWAY_API_MODULE, version) / "config" / "crd" / channel


def istio_crd_file(version: str) -> Path:
    """The single generated YAML file holding all of Istio's CRDs in ``istio.io/api``."""
    kubernetes = module_dir(ISTIO_API_MODULE, version) / "kubernetes"
    return kubernetes / "customresourcedefinitions.gen.yaml"
