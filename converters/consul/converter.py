"""The Consul converter plugin."""

from __future__ import annotations

from converters.consul.chain import Chain, Splitter
from converters.consul.env import KINDS, RESOLVER, ROUTER, SPLITTER, Entry, Env
from converters.consul.spec import read_resolver, read_routes, read_splits
from converters.consul.tables import Routers, TableBuilder
from meshmigrate.registry import ConvertContext, Converter
from meshmigrate.sources import Document

GROUP = "consul.hashicorp.com"


class ConsulConverter(Converter):
    name = "consul"
    description = "Consul ServiceRouter, ServiceSplitter, ServiceResolver (consul.hashicorp.com)"
    kinds = {(GROUP, kind): ("v1alpha1",) for kind in KINDS}  # noqa: RUF012 (base shape)

    def convert(self, docs: list[Document], ctx: ConvertContext) -> None:
        if not docs:
            return
        env = Env(ctx)
        entries = _unique([Entry(doc, ctx.view(doc)) for doc in docs], env)
        builder = _builder(entries, env)
        ctx.model.tables.extend(builder.table(svc) for svc in builder.services())
        ctx.model.sources.extend(e.doc for e in entries)
        for entry in entries:
            ctx.report_unconsumed(entry.root)
        env.report("SOURCE_MESH_HAS_NO_GAMMA", docs[0], (),
                   "Consul does not implement GAMMA (hashicorp/consul#18543): the routes take "
                   "effect only in a mesh that does, so converting means switching meshes")


def _builder(entries: list[Entry], env: Env) -> TableBuilder:
    by_kind = {kind: [e for e in entries if e.doc.kind == kind] for kind in KINDS}
    routers = Routers({e.ref: e for e in by_kind[ROUTER]},
                      {e.ref: read_routes(e, env) for e in by_kind[ROUTER]})
    splitters = {e.ref: Splitter(e, read_splits(e, env)) for e in by_kind[SPLITTER]}
    resolvers = {e.ref: read_resolver(e, env) for e in by_kind[RESOLVER]}
    return TableBuilder(env, Chain(env, splitters, resolvers), routers)


def _unique(entries: list[Entry], env: Env) -> list[Entry]:
    """One entry per kind and service: a later duplicate is ignored (and reported)."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for entry in entries:
        entry.root.at("metadata").req_str("name")  # the Consul service name
        key = (entry.doc.kind, entry.ref.namespace, entry.ref.name)
        if key in seen:
            env.report("DUPLICATE_HOST_IGNORED", entry.doc, ("metadata", "name"),
                       f"another {entry.doc.kind} for {entry.ref} comes first; this one is "
                       "ignored")
            continue
        seen.add(key)
        out.append(entry)
    return out
