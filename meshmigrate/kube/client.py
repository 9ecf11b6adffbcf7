"""A small Kubernetes REST client over the official ``kubernetes`` package.

Every kind is reached the same way (raw ``ApiClient`` calls on discovered resource paths),
so CRD-based kinds need no generated models. Transient failures (connection refused or
reset, 429, 503, 504) are retried with backoff for ``retry_seconds``; then the request
fails with :class:`Unreachable`. Non-2xx answers raise :class:`KubeError` carrying the
apiserver's ``Status`` (reason, message, causes).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import urllib3

from meshmigrate.errors import ClusterError, UsageError
from meshmigrate.kube.objects import FIELD_MANAGER, Obj, ObjRef

__all__ = ["FIELD_MANAGER", "Kube", "KubeError", "Resource", "Unreachable", "connect"]
APPLY_PATCH = "application/apply-patch+yaml"
TRANSIENT_STATUS = (429, 503, 504)
Query = list[tuple[str, str]]


class KubeError(ClusterError):
    """The apiserver answered with an error ``Status``."""

    def __init__(self, status: int, what: str, body: Obj) -> None:
        self.status = status
        self.reason = str(body.get("reason") or "")
        self.message = str(body.get("message") or body.get("_raw") or f"HTTP {status}")
        details = body.get("details") or {}
        self.causes: list[Obj] = list(details.get("causes") or [])
        super().__init__(f"{what}: {self.message}")


class Unreachable(ClusterError):
    """The apiserver could not be reached (after retries)."""


@dataclass(frozen=True, slots=True)
class Resource:
    """A served kind: where its objects live in the REST API."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


@dataclass
class Kube:
    """One cluster: the REST client, the server URL, the context's default namespace."""

    api: Any
    server: str
    context: str | None = None
    namespace: str = "default"
    retry_seconds: float = 15.0
    _discovery: dict[str, dict[str, Resource] | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- raw requests ------------------------------------------------------------------
    def request(self, method: str, path: str, query: Query | None = None, body: Any = None,
                content_type: str = "application/json", what: str = "") -> Obj:
        """One API call with retries of transient failures; the decoded JSON answer."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.25
        while True:
            try:
                return self._once(method, path, query or [], body, content_type, what)
            except _Transient as exc:
                if time.monotonic() + delay > deadline:
                    raise Unreachable(f"{what or method + ' ' + path}: the apiserver at "
                                      f"{self.server} did not answer ({exc})") from None
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _once(self, method: str, path: str, query: Query, body: Any, content_type: str,
              what: str) -> Obj:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        args = self.api.param_serialize(method, path, query_params=query,
                                        header_params=headers, body=body,
                                        auth_settings=["BearerToken"])
        try:
            resp = self.api.call_api(*args, _request_timeout=(5, 60))
            data = resp.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Transient(type(exc).__name__) from None
        if resp.status in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {resp.status}")
        decoded = _decode(data)
        if resp.status >= 400:
            raise KubeError(resp.status, what or f"{method} {path}", decoded)
        return decoded

    # ---- discovery ---------------------------------------------------------------------
    def resources(self, api_version: str) -> dict[str, Resource] | None:
        """Kind -> Resource for one group/version; None when it is not served."""
        with self._lock:
            if api_version in self._discovery:
                return self._discovery[api_version]
        found = self._discover(api_version)
        with self._lock:
            self._discovery[api_version] = found
        return found

    def _discover(self, api_version: str) -> dict[str, Resource] | None:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            doc = self.request("GET", path, what=f"discovery of {api_version}")
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        out: dict[str, Resource] = {}
        for item in doc.get("resources") or []:
            if "/" not in item.get("name", ""):
                out[item["kind"]] = Resource(group, version, item["kind"], item["name"],
                                             bool(item.get("namespaced")))
        return out

    def resource(self, api_version: str, kind: str) -> Resource | None:
        found = self.resources(api_version)
        return found.get(kind) if found else None

    def served_versions(self, group: str) -> tuple[str, list[str]] | None:
        """(preferred version, every served version) of an API group; None if absent."""
        if not group:
            return ("v1", ["v1"])
        try:
            doc = self.request("GET", f"/apis/{group}", what=f"discovery of {group}")
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        versions = [v["version"] for v in doc.get("versions") or []]
        preferred = (doc.get("preferredVersion") or {}).get("version") or versions[0]
        return (str(preferred), versions)

    def require(self, ref: ObjRef) -> Resource:
        res = self.resource(ref.api_version, ref.kind)
        if res is None:
            raise ClusterError(f"{ref.kind} ({ref.api_version}) is not served by the cluster "
                               f"at {self.server}{_install_hint(ref)}")
        return res

    # ---- objects -------------------------------------------------------------------------
    def get(self, ref: ObjRef) -> Obj | None:
        res = self.require(ref)
        try:
            return self.request("GET", res.path(ref.namespace, ref.name), what=f"get {ref}")
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list_all(self, res: Resource, namespace: str | None, limit: int = 500,
             selector: str = "") -> list[Obj]:
        """Every object of a kind in ``namespace`` (None: all namespaces), page by page."""
        items: list[Obj] = []
        token = ""
        while True:
            query = [("limit", str(limit))] + ([("continue", token)] if token else [])
            query += [("labelSelector", selector)] if selector else []
            page = self.request("GET", res.path(namespace), query,
                                what=f"list {res.plural}.{res.group or 'core'}")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def apply(self, obj: Obj, *, force: bool = False, dry_run: bool = False) -> Obj:
        """Server-side apply with field manager ``meshmigrate`` (``force`` takes over fields
        another manager owns; ``dry_run`` runs validation and admission, persists nothing)."""
        ref = ObjRef.of(obj)
        res = self.require(ref)
        query = [("fieldManager", FIELD_MANAGER), *_flags(force=force, dry_run=dry_run)]
        return self.request("PATCH", res.path(ref.namespace, ref.name), query,
                            json.dumps(obj), APPLY_PATCH, what=f"apply {ref}")

    def create(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        ref = ObjRef.of(obj)
        res = self.require(ref)
        query = [("fieldManager", FIELD_MANAGER), *_flags(dry_run=dry_run)]
        return self.request("POST", res.path(ref.namespace), query, obj,
                            what=f"create {ref}")

    def replace(self, obj: Obj) -> Obj:
        ref = ObjRef.of(obj)
        res = self.require(ref)
        return self.request("PUT", res.path(ref.namespace, ref.name),
                            [("fieldManager", FIELD_MANAGER)], obj, what=f"restore {ref}")

    def delete(self, ref: ObjRef, *, resource_version: str | None = None,
               dry_run: bool = False) -> bool:
        """Delete (only if still at ``resource_version`` when given); False if absent."""
        res = self.require(ref)
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy":
                     "Background"}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        if dry_run:  # in the body: with a DeleteOptions body the apiserver ignores the query
            body["dryRun"] = ["All"]
        try:
            self.request("DELETE", res.path(ref.namespace, ref.name), [], body,
                         what=f"delete {ref}")
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def can(self, verb: str, group: str, resource: str, namespace: str) -> bool | None:
        """SelfSubjectAccessReview; None when the cluster cannot answer."""
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb, "group": group,
                                                  "resource": resource,
                                                  "namespace": namespace}}}
        try:
            out = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                               body=review, what="access review")
        except KubeError:
            return None
        return bool((out.get("status") or {}).get("allowed"))


class _Transient(Exception):
    pass


def _flags(*, force: bool = False, dry_run: bool = False) -> Query:
    return ([("force", "true")] if force else []) + ([("dryRun", "All")] if dry_run else [])


def _decode(data: bytes) -> Obj:
    if not data:
        return {}
    try:
        decoded = json.loads(data)
    except ValueError:
        return {"_raw": data.decode(errors="replace")[:500]}
    return decoded if isinstance(decoded, dict) else {"items": decoded}


def _install_hint(ref: ObjRef) -> str:
    if ref.group == "gateway.networking.k8s.io":
        return ": install the Gateway API CRDs (kubectl apply -f the release's standard-install" \
               ".yaml, or experimental-install.yaml for TCPRoute)"
    return ""


def connect(kubeconfig: str | None = None, context: str | None = None) -> Kube:
    """A :class:`Kube` from a kubeconfig (``--kubeconfig``/``$KUBECONFIG``/~/.kube/config)
    and ``--context``, or the in-cluster service account when there is no kubeconfig."""
    from kubernetes import config

    # The package reads $KUBECONFIG once, at import: read it here so a later change counts.
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        if kubeconfig is None and _in_cluster():
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            api = _incluster_client()
            return Kube(api, api.configuration.host, None, _incluster_namespace(),
                        _retry_seconds())
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, persist_config=False)
        ctx_name, namespace = _context_namespace(kubeconfig, context)
    except (config.ConfigException, OSError) as exc:
        raise UsageError(f"cannot load the kubeconfig: {exc}") from None
    return Kube(api, api.configuration.host, ctx_name, namespace, _retry_seconds())


def _retry_seconds() -> float:
    """How long to retry an unreachable apiserver (``MESHMIGRATE_RETRY_SECONDS``, 15)."""
    try:
        return float(os.environ.get("MESHMIGRATE_RETRY_SECONDS", "15"))
    except ValueError:
        return 15.0


def _in_cluster() -> bool:
    default = os.path.expanduser("~/.kube/config")
    return ("KUBERNETES_SERVICE_HOST" in os.environ and not os.environ.get("KUBECONFIG")
            and not os.path.exists(default))


def _incluster_client() -> Any:
    from kubernetes import client

    return client.ApiClient(client.Configuration.get_default_copy())


def _incluster_namespace() -> str:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() or "default"
    except OSError:
        return "default"


def _context_namespace(kubeconfig: str | None, context: str | None) -> tuple[str | None, str]:
    from kubernetes import config

    contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=kubeconfig)
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    chosen = chosen or {}
    namespace = (chosen.get("context") or {}).get("namespace") or "default"
    return chosen.get("name"), str(namespace)
