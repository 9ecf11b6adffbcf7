"""Generate a realistic synthetic Istio mesh (deterministic for a given seed).

Per Service: a v1 Service (HTTP on one port; about 10% with a second, admin port; about 12%
gRPC), a DestinationRule with two or three subsets (some with a traffic policy), and a
VirtualService with a mix of rules, about 6 on average: exact, string-prefix and regex paths,
header (exact/prefix/regex), method and query matches, rewrites, redirects, mirrors,
header operations, timeouts, retries, cross-Service routes and a weighted catch-all. gRPC
Services get method/service matches. Services are grouped in namespaces of about 40.

    python bench/generate.py --services 10000 --seed 1 -o mesh.yaml

The output is one multi-document YAML stream (Services first, then DestinationRules, then
VirtualServices, namespace by namespace).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshmigrate.yamlout import write_all

Obj = dict[str, Any]
ISTIO = "networking.istio.io/v1"
PER_NAMESPACE = 40
RESOURCES = (
    "orders", "users", "cart", "checkout", "payments", "invoices", "catalog", "products",
    "reviews", "ratings", "search", "recommendations", "inventory", "shipping", "accounts",
    "profiles", "sessions", "tokens", "notifications", "messages", "reports", "metrics",
    "uploads", "images", "videos", "comments", "likes", "followers", "feeds", "ads",
    "coupons", "prices", "quotes", "tickets", "events", "bookings", "rooms", "flights",
    "stores", "teams",
)
WORDS = ("alpha", "bravo", "cobalt", "delta", "ember", "falcon", "garnet", "harbor",
         "indigo", "jasper", "kestrel", "lumen", "maple", "nimbus", "onyx", "pioneer",
         "quartz", "raven", "sierra", "tundra", "umber", "vertex", "willow", "xenon",
         "yarrow", "zephyr")
AGENTS = (".*Mobile.*", ".*Android.*", "curl/.*", ".*iPhone.*")


class Svc:
    """One generated Service and the facts its VirtualService needs."""

    def __init__(self, index: int, rng: random.Random) -> None:
        self.index = index
        self.namespace = f"team-{index // PER_NAMESPACE:04d}"
        self.name = f"{WORDS[index % len(WORDS)]}-{index}"
        self.grpc = rng.random() < 0.12
        self.admin = not self.grpc and rng.random() < 0.10
        self.port = 9090 if self.grpc else rng.choice((80, 8080))
        self.subsets = ("v1", "v2", "v3") if rng.random() < 0.3 else ("v1", "v2")
        self.resources = rng.sample(RESOURCES, 3)
        self.version = rng.randint(1, 4)

    def service(self) -> Obj:
        ports: list[Obj] = [{"name": "grpc" if self.grpc else "http", "port": self.port,
                             "targetPort": 8000 + self.port % 1000}]
        if self.admin:
            ports.append({"name": "http-admin", "port": 9901, "targetPort": 9901})
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": {"app": self.name}},
                "spec": {"selector": {"app": self.name}, "ports": ports}}

    def destination_rule(self, rng: random.Random) -> Obj:
        spec: Obj = {"host": self.name,
                     "subsets": [{"name": s, "labels": {"version": s}} for s in self.subsets]}
        if rng.random() < 0.2:
            spec["trafficPolicy"] = {"loadBalancer": {"simple": "LEAST_REQUEST"}}
        return {"apiVersion": ISTIO, "kind": "DestinationRule",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}

    def dest(self, subset: str, weight: int | None = None, host: str | None = None) -> Obj:
        destination: Obj = {"host": host or self.name, "subset": subset}
        if self.admin:
            destination["port"] = {"number": self.port}
        out: Obj = {"destination": destination}
        if weight is not None:
            out["weight"] = weight
        return out


# --- HTTP rules ---------------------------------------------------------------------------
def _canary(s: Svc, rng: random.Random, _peer: Svc) -> Obj:
    header = rng.choice(({"x-canary": {"exact": "true"}}, {"end-user": {"exact": "jason"}},
                         {"x-tenant": {"prefix": "beta-"}},
                         {"user-agent": {"regex": rng.choice(AGENTS)}}))
    return {"name": "canary", "match": [{"headers": header}], "route": [s.dest("v2")]}


def _health(s: Svc, rng: random.Random, _peer: Svc) -> Obj:
    path = rng.choice(("/healthz", "/ready", "/version", "/status"))
    return {"match": [{"uri": {"exact": path}}], "route": [s.dest("v1")], "timeout": "2s"}


def _versioned_api(s: Svc, rng: random.Random, _peer: Svc) -> Obj:
    res = s.resources[0]
    return {"name": f"api-{res}", "match": [{"uri": {"prefix": f"/api/v{s.version}/{res}"}}],
            "rewrite": {"uri": f"/{res}"}, "route": [s.dest("v1")],
            "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,connect-failure"},
            "timeout": "10s"}


def _regex(s: Svc, rng: random.Random, _peer: Svc) -> Obj:
    res = s.resources[1]
    pattern = rng.choice((f"/{res}/[0-9]+", f"/{res}/[a-z0-9-]+/details", f"/v[0-9]/{res}/.*"))
    return {"match": [{"uri": {"regex": pattern}}], "route": [s.dest("v1")]}


def _method_query(s: Svc, rng: random.Random, _peer: Svc) -> Obj:
    res = s.resources[2]
    return {"match": [{"method": {"exact": rng.choice(("GET", "POST"))},
                       "uri": {"prefix": f"/{res}"},
                       "queryParams": {"debug": {"exact": "1"}}}],
            "route": [s.dest("v2")],
            "headers": {"request": {"set": {"x-debug": "1"}}}}


def _redirect(s: Svc, rng: random.Random, _peer: Svc) -> Obj:
    res = s.resources[0]
    return {"match": [{"uri": {"exact": f"/old/{res}"}}],
            "redirect": {"uri": f"/api/v{s.version}/{res}", "redirectCode": 301}}


def _mirror(s: Svc, rng: random.Random, _peer: Svc) -> Obj:
    res = s.resources[1]
    return {"match": [{"uri": {"prefix": f"/{res}/"}}], "route": [s.dest("v1")],
            "mirror": {"host": s.name, "subset": s.subsets[-1]},
            "mirrorPercentage": {"value": float(rng.choice((1, 5, 10, 50)))}}


def _cross_service(s: Svc, rng: random.Random, peer: Svc) -> Obj:
    host = peer.name if rng.random() < 0.7 else f"{peer.name}.{peer.namespace}.svc.cluster.local"
    dest: Obj = {"destination": {"host": host}}
    if peer.admin:
        dest["destination"]["port"] = {"number": peer.port}
    return {"match": [{"uri": {"prefix": "/auth"}}, {"uri": {"prefix": "/login"}}],
            "route": [dest], "timeout": "5s",
            "headers": {"request": {"add": {"x-forwarded-service": s.name}},
                        "response": {"remove": ["x-internal"]}}}


def _catch_all(s: Svc, rng: random.Random) -> Obj:
    split = rng.choice((90, 95, 80, 100))
    route = [s.dest("v1", split)] + ([s.dest("v2", 100 - split)] if split < 100 else [])
    rule: Obj = {"name": "default", "route": route}
    if rng.random() < 0.5:
        rule["timeout"] = rng.choice(("15s", "30s", "1m"))
    if rng.random() < 0.3:
        rule["retries"] = {"attempts": rng.randint(1, 4), "perTryTimeout": "3s"}
    return rule


HTTP_TEMPLATES = (_canary, _health, _versioned_api, _regex, _method_query, _redirect,
                  _mirror, _cross_service)


def http_rules(s: Svc, rng: random.Random, peer: Svc) -> list[Obj]:
    count = rng.choice((3, 4, 5, 5, 6, 7, 8))  # plus the catch-all: about 6 on average
    chosen = sorted(rng.sample(range(len(HTTP_TEMPLATES)), count))
    return [HTTP_TEMPLATES[i](s, rng, peer) for i in chosen] + [_catch_all(s, rng)]


# --- gRPC rules ---------------------------------------------------------------------------
def grpc_rules(s: Svc, rng: random.Random) -> list[Obj]:
    package = f"{s.resources[0]}.v{s.version}"
    service = f"/{package}.{s.resources[0].capitalize()}Service"
    rules: list[Obj] = [
        {"match": [{"uri": {"exact": f"{service}/Get{s.resources[1].capitalize()}"}}],
         "route": [s.dest("v2")]},
        {"match": [{"uri": {"exact": f"{service}/List{s.resources[2].capitalize()}"}},
                   {"headers": {"x-canary": {"exact": "true"}}}],
         "route": [s.dest("v2")]},
        {"match": [{"uri": {"prefix": f"{service}/"}}], "route": [s.dest("v1")]},
    ]
    rules += [{"route": [s.dest("v1", 90), s.dest("v2", 10)]}] if rng.random() < 0.7 else [
        {"route": [s.dest("v1")]}]
    return rules


def virtual_service(s: Svc, rng: random.Random, peer: Svc) -> Obj:
    rules = grpc_rules(s, rng) if s.grpc else http_rules(s, rng, peer)
    return {"apiVersion": ISTIO, "kind": "VirtualService",
            "metadata": {"name": s.name, "namespace": s.namespace},
            "spec": {"hosts": [s.name], "http": rules}}


def mesh(services: int, seed: int) -> Iterator[Obj]:
    """The objects of a mesh of ``services`` Services, namespace by namespace."""
    rng = random.Random(seed)
    for start in range(0, services, PER_NAMESPACE):
        group = [Svc(i, rng) for i in range(start, min(start + PER_NAMESPACE, services))]
        auth = next((g for g in group if not g.grpc), group[0])
        yield from (s.service() for s in group)
        yield from (s.destination_rule(rng) for s in group)
        yield from (virtual_service(s, rng, auth) for s in group)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", default="-", help="file (default: stdout)")
    args = parser.parse_args(argv)
    if args.output == "-":
        write_all(mesh(args.services, args.seed), sys.stdout)
        return
    with open(args.output, "w", encoding="utf-8") as out:
        write_all(mesh(args.services, args.seed), out)


if __name__ == "__main__":
    main()
