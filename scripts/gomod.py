"""Fetch a published Go module into the Go module cache and return its directory.

Test infrastructure only: the product never runs Go. Used to obtain the Gateway API and
Istio CRDs (and the Kubernetes sources for the test cluster) from the Go module proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api"
ISTIO_API_MODULE = "istio.io/api"


def module_dir(module: str, version: str) -> Path:
    """Download ``module@version`` (if not cached) and return its unpacked directory."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on")
        out = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=tmp, env=env, check=True, capture_output=True, text=True,
        ).stdout
    info = json.loads(out)
    if info.get("Error"):
        raise RuntimeError(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])


def gateway_api_crd_dir(version: str, channel: str = "experimental") -> Path:
    """Directory of the Gateway API CRD YAML files for ``version`` and ``channel``."""
    return module_dir(GATEWAY_API_MODULE, version) / "config" / "crd" / channel


def istio_crd_file(version: str) -> Path:
    """The single generated YAML file holding all of Istio's CRDs in ``istio.io/api``."""
    return module_dir(ISTIO_API_MODULE, version) / "kubernetes" / "customresourcedefinitions.gen.yaml"
