"""A real kube-apiserver and etcd on 127.0.0.1 for meshmigrate's tests.

Test infrastructure only: the product never runs this. ``scripts/test-cluster`` is the command
line; ``tests/cluster_fixture.py`` is the pytest fixture. Both binaries are built from the
published Go modules at pinned versions (so the machine needs only Go and Python) and cached
under ``${XDG_CACHE_HOME:-~/.cache}/meshmigrate/testcluster/<component>-<version>/``.

The cluster is an API server and nothing else: no controllers, no nodes, no scheduler. Objects
are stored, validated (OpenAPI schemas, CEL rules, defaults) and authorized (RBAC over static
tokens) exactly as a real cluster does, but nothing ever reconciles them: routes never get a
status and a deleted namespace stays Terminating.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gomod  # scripts/ is not a package: imported from its folder

KUBERNETES_MODULE = "k8s.io/kubernetes"
ETCD_SERVER_MODULE = "go.etcd.io/etcd/server/v3"
REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_CRD_DIR = REPO_ROOT / "testdata" / "crds"
FIELD_MANAGER = "meshmigrate-testcluster"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
ADMIN_USER = "meshmigrate-admin"
UNPRIVILEGED_USER = "meshmigrate-tester"
UNPRIVILEGED_GROUP = "meshmigrate:testers"
START_ATTEMPTS = 3  # free ports are picked before the daemons bind them: another may win


@dataclass(frozen=True)
class Versions:
    """Pinned versions; each can be overridden by an environment variable or a CLI flag."""

    kubernetes: str = "v1.36.3"
    etcd: str = "v3.6.16"
    gateway_api: str = "v1.4.0"
    gateway_api_channel: str = "experimental"
    istio_api: str = "v1.28.0"

    @classmethod
    def from_env(cls, **overrides: str | None) -> Versions:
        """Defaults, then ``MESHMIGRATE_TESTCLUSTER_<FIELD>`` variables, then ``overrides``."""
        values: dict[str, str] = {}
        for f in fields(cls):
            env = os.environ.get(f"MESHMIGRATE_TESTCLUSTER_{f.name.upper()}")
            chosen = overrides.get(f.name) or env
            if chosen:
                values[f.name] = chosen
        return cls(**values)


def log(message: str) -> None:
    """Progress goes to stderr so that stdout stays machine-readable."""
    print(f"[test-cluster] {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "meshmigrate" / "testcluster"


# --------------------------------------------------------------------------------------------
# Building the binaries


def go_env() -> dict[str, str]:
    """Environment for the throwaway builds: static, no VCS stamping, go.mod may be updated."""
    return dict(os.environ, CGO_ENABLED="0", GO111MODULE="on", GOFLAGS="-mod=mod -buildvcs=false")


def go_download(module: str, version: str) -> dict[str, Any]:
    """``go mod download -json module@version``: the module's Dir, GoMod path, etc."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=tmp, env=go_env(), capture_output=True, text=True, check=False,
        )
    info: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if proc.returncode != 0 or info.get("Error"):
        reason = info.get("Error") or proc.stderr
        raise RuntimeError(f"go mod download {module}@{version}: {reason}")
    return info


def go_directive(gomod_text: str) -> str:
    match = re.search(r"^go\s+(\S+)\s*$", gomod_text, re.MULTILINE)
    if not match:
        raise RuntimeError("go.mod has no go directive")
    return match.group(1)


def staging_modules(gomod_text: str) -> list[str]:
    """The ``k8s.io/*`` modules that k8s.io/kubernetes requires at the placeholder v0.0.0.

    In the kubernetes repository these live under ``./staging`` and are wired in by local
    ``replace`` directives, which Go ignores for a dependency. Each is published separately.
    """
    pattern = re.compile(r"^\s*(?:require\s+)?(k8s\.io/\S+)\s+v0\.0\.0\s*(?://.*)?$", re.MULTILINE)
    return sorted(set(pattern.findall(gomod_text)))


def staging_version(kubernetes_version: str) -> str:
    """``v1.36.3`` -> ``v0.36.3``: the tag of the staging modules published with it."""
    match = re.fullmatch(r"v1\.(\d+\.\d+(?:-[0-9A-Za-z.]+)?)", kubernetes_version)
    if not match:
        raise ValueError(f"not a Kubernetes v1.x.y version: {kubernetes_version}")
    return f"v0.{match.group(1)}"


def render_gomod(go_version: str, requires: dict[str, str], replaces: dict[str, str]) -> str:
    lines = ["module meshmigrate.invalid/testcluster-build", "", f"go {go_version}", ""]
    lines += [f"require {module} {version}" for module, version in sorted(requires.items())]
    if replaces:
        lines += ["", "replace ("]
        lines += [f"\t{module} => {target}" for module, target in sorted(replaces.items())]
        lines.append(")")
    return "\n".join(lines) + "\n"


def kube_apiserver_module(version: str) -> tuple[str, list[str]]:
    """go.mod text of the throwaway module and the ldflags stamping the version."""
    gomod_text = Path(go_download(KUBERNETES_MODULE, version)["GoMod"]).read_text()
    published = staging_version(version)
    replaces = {module: f"{module} {published}" for module in staging_modules(gomod_text)}
    major, minor = version.lstrip("v").split(".")[:2]
    stamp = "k8s.io/component-base/version"
    ldflags = [
        f"-X {stamp}.gitVersion={version}",
        f"-X {stamp}.gitMajor={major}",
        f"-X {stamp}.gitMinor={minor}",
        f"-X {stamp}.gitTreeState=clean",
    ]
    text = render_gomod(go_directive(gomod_text), {KUBERNETES_MODULE: version}, replaces)
    return text, ldflags


def etcd_module(version: str) -> str:
    gomod_text = Path(go_download(ETCD_SERVER_MODULE, version)["GoMod"]).read_text()
    return render_gomod(go_directive(gomod_text), {ETCD_SERVER_MODULE: version}, {})


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock, so that concurrent sessions build each binary once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_logged(cmd: Sequence[str], cwd: Path, logfile: Path, what: str) -> None:
    """Run a long command, output to ``logfile``, with a heartbeat on stderr every minute."""
    started = time.monotonic()
    with logfile.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=go_env(), stdout=out, stderr=subprocess.STDOUT)
        while True:
            try:
                proc.wait(timeout=60)
                break
            except subprocess.TimeoutExpired:
                log(f"  still building {what}: {int(time.monotonic() - started)}s")
    if proc.returncode != 0:
        tail = "".join(logfile.read_text().splitlines(keepends=True)[-40:])
        raise RuntimeError(f"building {what} failed (log: {logfile}):\n{tail}")


@dataclass(frozen=True)
class BuildRecipe:
    component: str
    version: str
    package: str
    gomod: Callable[[], tuple[str, list[str]]]


def ensure_binary(recipe: BuildRecipe) -> Path:
    """The cached binary for ``recipe``, built first if it is not in the cache yet."""
    home = cache_root() / f"{recipe.component}-{recipe.version}"
    binary = home / recipe.component
    if binary.is_file():
        return binary
    with file_lock(home / ".build.lock"):
        if not binary.is_file():
            build_binary(recipe, home, binary)
    return binary


def build_binary(recipe: BuildRecipe, home: Path, binary: Path) -> None:
    if shutil.which("go") is None:
        raise RuntimeError(f"building {recipe.component} needs Go on PATH (https://go.dev/dl)")
    what = f"{recipe.component} {recipe.version}"
    logfile = home / "build.log"
    logfile.write_text("")
    log(f"building {what} (first time only, several minutes; log: {logfile})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="build-", dir=home) as work:
        workdir = Path(work)
        gomod_text, ldflags = recipe.gomod()
        (workdir / "go.mod").write_text(gomod_text)
        out = workdir / recipe.component
        flags = " ".join(["-s", "-w", *ldflags])
        cmd = ["go", "build", "-trimpath", f"-ldflags={flags}", "-o", str(out), recipe.package]
        run_logged(cmd, workdir, logfile, what)
        os.replace(out, binary)
    seconds = round(time.monotonic() - started)
    info = {"component": recipe.component, "version": recipe.version, "build_seconds": seconds,
            "go": subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (home / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
    log(f"built {what} in {seconds}s -> {binary}")


def kube_apiserver_recipe(version: str) -> BuildRecipe:
    return BuildRecipe("kube-apiserver", version, f"{KUBERNETES_MODULE}/cmd/kube-apiserver",
                       lambda: kube_apiserver_module(version))


def etcd_recipe(version: str) -> BuildRecipe:
    # The etcd server module's root package is etcd's main (it calls etcdmain.Main).
    return BuildRecipe("etcd", version, ETCD_SERVER_MODULE, lambda: (etcd_module(version), []))


def ensure_binaries(versions: Versions) -> tuple[Path, Path]:
    """(etcd, kube-apiserver), built if needed."""
    return ensure_binary(etcd_recipe(versions.etcd)), ensure_binary(
        kube_apiserver_recipe(versions.kubernetes))


# --------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        status = dict(line.split(":", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    except OSError:
        return False
    # A killed multi-threaded process shows its leader as a zombie while other threads still
    # tear down (and hold its sockets): it is gone only when no thread is left.
    return not (status["State"].strip().startswith("Z") and int(status["Threads"]) <= 1)


def port_free(port: int) -> bool:
    """True if a listener could bind 127.0.0.1:``port`` now (as Go does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pid_runs(pid: int, binary: str) -> bool:
    """True if ``pid`` is alive and is the ``binary`` we started (pids get reused)."""
    try:
        executable = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return executable == os.path.realpath(binary) and pid_alive(pid)


def stop_pid(pid: int, binary: str, grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; only if ``pid`` still is ``binary``."""
    if not pid_runs(pid, binary):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pid_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + grace
        time.sleep(0.1)


def spawn(argv: list[str], logfile: Path) -> int:
    """Start a daemon in its own session (it outlives ``test-cluster up``); return its pid."""
    with logfile.open("a") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def wait_until(what: str, check: Callable[[], bool], timeout: float,
               alive: Callable[[], bool], logfile: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if not alive():
            raise RuntimeError(f"{what} exited; last log lines ({logfile}):\n{tail(logfile)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f}s; log: {logfile}\n"
                               f"{tail(logfile)}")
        time.sleep(0.2)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# Credentials


def write_service_account_keys(private: Path, public: Path) -> None:
    """RSA key pair that signs service-account tokens (openssl, else Python cryptography)."""
    if shutil.which("openssl"):
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", str(private)], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)],
                       check=True, capture_output=True)
        return
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def kubeconfig(server: str, ca_pem: bytes, user: str, token: str) -> dict[str, Any]:
    name = "meshmigrate-test"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server,
            "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


# --------------------------------------------------------------------------------------------
# The cluster


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


@dataclass
class Cluster:
    """One test cluster; its state is ``<dir>/cluster.json`` so that any process can drive it."""

    dir: Path
    versions: Versions
    etcd_binary: str
    apiserver_binary: str
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    apiserver_port: int = field(default_factory=free_port)
    admin_token: str = field(default_factory=lambda: secrets.token_hex(24))
    unprivileged_token: str = field(default_factory=lambda: secrets.token_hex(24))

    # ---- paths and addresses

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def unprivileged_kubeconfig(self) -> Path:
        return self.dir / "kubeconfig-unprivileged"

    @property
    def ca_file(self) -> Path:
        """The self-signed serving certificate the API server made, followed by its CA."""
        return self.dir / "pki" / "apiserver.crt"

    def _pidfile(self, component: str) -> Path:
        return self.dir / f"{component}.pid"

    def _logfile(self, component: str) -> Path:
        return self.dir / f"{component}.log"

    # ---- persistence

    def save(self) -> None:
        data = {k: v for k, v in asdict(self).items() if k not in ("dir", "versions")}
        data["versions"] = asdict(self.versions)
        data["server"] = self.server
        (self.dir / "cluster.json").write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> Cluster | None:
        path = state_dir / "cluster.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        data.pop("server", None)
        versions = Versions(**data.pop("versions"))
        return cls(dir=state_dir, versions=versions, **data)

    # ---- process control

    def pid(self, component: str) -> int | None:
        try:
            return int(self._pidfile(component).read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self, component: str) -> bool:
        pid = self.pid(component)
        return pid is not None and pid_runs(pid, self._binary(component))

    def _binary(self, component: str) -> str:
        return self.etcd_binary if component == "etcd" else self.apiserver_binary

    def _start(self, component: str, argv: list[str], ports: Sequence[int]) -> None:
        if self.running(component):
            raise RuntimeError(f"{component} already runs (pid {self.pid(component)})")
        deadline = time.monotonic() + 10  # a killed server may still be closing its sockets
        while not all(port_free(port) for port in ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{component}: ports {list(ports)} still in use")
            time.sleep(0.1)
        pid = spawn([self._binary(component), *argv], self._logfile(component))
        self._pidfile(component).write_text(f"{pid}\n")

    def _stop(self, component: str) -> None:
        pid = self.pid(component)
        if pid is not None:
            stop_pid(pid, self._binary(component))
        self._pidfile(component).unlink(missing_ok=True)

    def etcd_args(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        return [
            "--name=meshmigrate-test",
            f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=meshmigrate-test={peer}",
            "--unsafe-no-fsync",  # a throwaway test store: durability across crashes is moot
            "--log-level=warn",
        ]

    def apiserver_args(self) -> list[str]:
        return [
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={self.dir / 'pki'}",
            f"--token-auth-file={self.dir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.dir / 'sa.pub'}",
            f"--service-account-signing-key-file={self.dir / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=false",
            "--profiling=false",
        ]

    def start_etcd(self) -> None:
        self._start("etcd", self.etcd_args(), (self.etcd_port, self.etcd_peer_port))
        wait_until("etcd", self._etcd_healthy, 60, lambda: self.running("etcd"),
                   self._logfile("etcd"))

    def stop_etcd(self) -> None:
        self._stop("etcd")

    def start_apiserver(self, timeout: float = 180) -> None:
        """Start kube-apiserver (on the same port and etcd as before) and wait for /readyz."""
        self._start("kube-apiserver", self.apiserver_args(), (self.apiserver_port,))
        wait_until("kube-apiserver", self.ready, timeout, lambda: self.running("kube-apiserver"),
                   self._logfile("kube-apiserver"))

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver (SIGTERM, then SIGKILL); etcd and its data stay."""
        self._stop("kube-apiserver")

    def kill_apiserver(self) -> None:
        """SIGKILL kube-apiserver at once: a crash, not a shutdown."""
        pid = self.pid("kube-apiserver")
        if pid is not None and pid_runs(pid, self.apiserver_binary):
            os.kill(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.05)
        self._pidfile("kube-apiserver").unlink(missing_ok=True)

    # ---- health

    def _etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp:
                return bool(json.load(resp).get("health") == "true")
        except (OSError, ValueError):
            return False

    def ready(self) -> bool:
        if not self.ca_file.is_file():
            return False
        try:
            self.request("GET", "/readyz", raw=True, timeout=5)
        except (OSError, ApiError):
            return False
        return True

    def is_up(self) -> bool:
        return self.running("etcd") and self.running("kube-apiserver") and self.ready()

    # ---- REST

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                content_type: str = "application/json", raw: bool = False,
                timeout: float = 30) -> Any:
        """One authenticated API call (admin token by default); JSON in, JSON out."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.admin_token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._ssl_context()) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as err:
            body_text = err.read().decode(errors="replace")
            raise ApiError(err.code, body_text, f"{method} {path}") from None
        return text if raw else json.loads(text)

    def apply(self, obj: dict[str, Any], path: str) -> dict[str, Any]:
        """Server-side apply ``obj`` at ``path`` (idempotent, forced)."""
        query = f"?fieldManager={FIELD_MANAGER}&force=true"
        result: dict[str, Any] = self.request(
            "PATCH", path + query, obj, content_type="application/apply-patch+yaml")
        return result

    def create_namespace(self, prefix: str = "test") -> str:
        """A fresh namespace named ``<prefix>-<random>`` (namespaces are never deleted here)."""
        name = f"{prefix}-{secrets.token_hex(4)}"
        self.request("POST", "/api/v1/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    # ---- setup

    def prepare(self) -> None:
        """Credentials and kubeconfig-independent files in a fresh state dir."""
        (self.dir / "pki").mkdir(parents=True, exist_ok=True)
        tokens = (f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
                  f'{self.unprivileged_token},{UNPRIVILEGED_USER},{UNPRIVILEGED_USER},'
                  f'"{UNPRIVILEGED_GROUP}"\n')
        tokens_file = self.dir / "tokens.csv"
        tokens_file.write_text(tokens)
        tokens_file.chmod(0o600)
        write_service_account_keys(self.dir / "sa.key", self.dir / "sa.pub")
        self.save()

    def write_kubeconfigs(self) -> None:
        ca_pem = self.ca_file.read_bytes()
        for path, user, token in ((self.kubeconfig, ADMIN_USER, self.admin_token),
                                  (self.unprivileged_kubeconfig, UNPRIVILEGED_USER,
                                   self.unprivileged_token)):
            path.write_text(yaml.safe_dump(kubeconfig(self.server, ca_pem, user, token)))
            path.chmod(0o600)

    def install_crds(self, timeout: float = 120) -> list[str]:
        """Apply every test CRD and wait until all are Established; return their names."""
        crds = collect_crds(self.versions)
        for crd in crds:
            name = crd["metadata"]["name"]
            self.apply(crd, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        names = [crd["metadata"]["name"] for crd in crds]
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            pending = [name for name in pending if not self._established(name)]
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"CRDs not Established after {timeout:.0f}s: {pending}")
            time.sleep(0.2)
        return names

    def _established(self, name: str) -> bool:
        crd = self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = crd.get("status", {}).get("conditions", [])
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    # ---- teardown

    def stop(self) -> None:
        """Stop both processes (by pid, only if they are still ours); keep the state dir."""
        self.stop_apiserver()
        self.stop_etcd()

    def down(self) -> None:
        """Stop both processes and delete the state dir."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def read_crd_documents(paths: Sequence[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        with path.open() as handle:
            docs += [d for d in yaml.safe_load_all(handle)
                     if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
    return docs


def collect_crds(versions: Versions) -> list[dict[str, Any]]:
    """Gateway API (from its Go module), Istio (from istio.io/api) and testdata/crds."""
    gateway_dir = gomod.gateway_api_crd_dir(versions.gateway_api, versions.gateway_api_channel)
    paths = sorted(gateway_dir.glob("*.yaml"))
    paths.append(gomod.istio_crd_file(versions.istio_api))
    paths += sorted(REPO_CRD_DIR.glob("*.yaml"))
    return read_crd_documents(paths)


def default_state_dir() -> Path:
    return cache_root() / "state"


def up(state_dir: Path | None = None, versions: Versions | None = None) -> Cluster:
    """Build if needed, start etcd and kube-apiserver, write kubeconfigs and install CRDs.

    If a cluster already runs in ``state_dir`` it is reused (CRDs are re-applied); a dead one
    is cleaned away first.
    """
    state_dir = (state_dir or default_state_dir()).resolve()
    versions = versions or Versions.from_env()
    existing = Cluster.load(state_dir)
    if existing is not None and existing.is_up():
        log(f"already up at {existing.server} (state {state_dir})")
        existing.install_crds()
        return existing
    if existing is not None:
        log(f"cleaning up a stopped cluster in {state_dir}")
        existing.down()
    etcd, apiserver = ensure_binaries(versions)
    for attempt in range(1, START_ATTEMPTS + 1):
        cluster = Cluster(dir=state_dir, versions=versions, etcd_binary=str(etcd),
                          apiserver_binary=str(apiserver))
        try:
            start(cluster)
            return cluster
        except BaseException as err:
            cluster.stop()  # the logs stay in the state dir
            if "in use" not in str(err) or attempt == START_ATTEMPTS:
                raise
            log("a port picked for the cluster was taken meanwhile: retrying with new ports")
            shutil.rmtree(state_dir, ignore_errors=True)
    raise AssertionError("unreachable")


def start(cluster: Cluster) -> None:
    started = time.monotonic()
    cluster.dir.mkdir(parents=True, exist_ok=True)
    cluster.prepare()
    log(f"starting etcd {cluster.versions.etcd} on {cluster.etcd_url}")
    cluster.start_etcd()
    log(f"starting kube-apiserver {cluster.versions.kubernetes} on {cluster.server}")
    cluster.start_apiserver()
    cluster.write_kubeconfigs()
    names = cluster.install_crds()
    log(f"up in {time.monotonic() - started:.1f}s with {len(names)} CRDs established "
        f"(state {cluster.dir})")


def down(state_dir: Path | None = None) -> bool:
    """Stop the cluster in ``state_dir``; False if there was none."""
    state_dir = (state_dir or default_state_dir()).resolve()
    cluster = Cluster.load(state_dir)
    if cluster is None:
        return False
    cluster.down()
    return True


# --------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="test-cluster", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("up", "build if needed, start, install CRDs, print KUBECONFIG"),
                           ("down", "stop the processes and delete the state dir"),
                           ("status", "exit 0 if the cluster is up, 1 if not"),
                           ("build", "only build (or find cached) etcd and kube-apiserver")):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("--dir", type=Path, default=None,
                         help=f"state directory (default {default_state_dir()})")
        if name in ("up", "build"):
            for f in fields(Versions):
                cmd.add_argument(f"--{f.name.replace('_', '-')}-version"
                                 if not f.name.endswith("channel")
                                 else f"--{f.name.replace('_', '-')}",
                                 dest=f.name, default=None, help=f"default {f.default}")
    return parser.parse_args(argv)


def cmd_up(args: argparse.Namespace, out: TextIO) -> int:
    cluster = up(args.dir, versions_from_args(args))
    print(f"export KUBECONFIG={cluster.kubeconfig}", file=out)
    return 0


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    state_dir = (args.dir or default_state_dir()).resolve()
    cluster = Cluster.load(state_dir)
    if cluster is None:
        print(f"down (no cluster in {state_dir})", file=out)
        return 1
    parts = {c: ("running" if cluster.running(c) else "stopped")
             for c in ("etcd", "kube-apiserver")}
    if cluster.is_up():
        print(f"up: {cluster.server} etcd={cluster.etcd_url} kubeconfig={cluster.kubeconfig}",
              file=out)
        return 0
    print(f"not ready: etcd {parts['etcd']}, kube-apiserver {parts['kube-apiserver']} "
          f"(state {state_dir}; run 'down' then 'up')", file=out)
    return 1


def versions_from_args(args: argparse.Namespace) -> Versions:
    return Versions.from_env(**{f.name: getattr(args, f.name, None) for f in fields(Versions)})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "up":
            return cmd_up(args, sys.stdout)
        if args.command == "status":
            return cmd_status(args, sys.stdout)
        if args.command == "build":
            for binary in ensure_binaries(versions_from_args(args)):
                print(binary)
            return 0
        if not down(args.dir):
            log("no cluster to stop")
        return 0
    except (RuntimeError, ValueError, subprocess.CalledProcessError) as err:
        log(f"error: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
