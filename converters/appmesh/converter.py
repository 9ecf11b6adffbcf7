"""The App Mesh converter plugin."""

from __future__ import annotations

from converters.appmesh.env import (
    GATEWAY_KINDS,
    GROUP,
    VIRTUAL_NODE,
    VIRTUAL_ROUTER,
    VIRTUAL_SERVICE,
    Env,
    Obj,
)
from converters.appmesh.nodes import read_node
from converters.appmesh.routers import RuleBuilder, read_router
from converters.appmesh.tables import TableBuilder
from converters.appmesh.targets import Targets
from meshmigrate.registry import ConvertContext, Converter
from meshmigrate.sources import Document

_KINDS = (VIRTUAL_SERVICE, VIRTUAL_ROUTER, VIRTUAL_NODE, *GATEWAY_KINDS)


class AppMeshConverter(Converter):
    name = "appmesh"
    description = "AWS App Mesh VirtualService, VirtualRouter, VirtualNode (appmesh.k8s.aws)"
    kinds = {(GROUP, kind): ("v1beta2",) for kind in _KINDS}  # noqa: RUF012 (base shape)

    def convert(self, docs: list[Document], ctx: ConvertContext) -> None:
        if not docs:
            return
        env = Env(ctx)
        objs = [Obj(doc, ctx.view(doc)) for doc in docs]
        mesh = [o for o in objs if o.doc.kind not in GATEWAY_KINDS]
        for obj in objs:
            if obj.doc.kind in GATEWAY_KINDS:
                env.report("UNSUPPORTED_SOURCE", obj, (),
                           f"{obj.doc.kind} configures App Mesh ingress, not mesh routing; "
                           "not converted")
        _convert(mesh, env)
        for obj in mesh:
            ctx.report_unconsumed(obj.root)
        env.report("SOURCE_MESH_HAS_NO_GAMMA", objs[0], (),
                   "App Mesh does not implement GAMMA (and reaches end of support on "
                   "2026-09-30): the routes take effect only in a mesh that does, so "
                   "converting means switching meshes")


def _convert(objs: list[Obj], env: Env) -> None:
    def of(kind: str) -> list[Obj]:
        return [o for o in objs if o.doc.kind == kind]

    nodes = {o.key: read_node(o, env) for o in of(VIRTUAL_NODE)}
    routers = {o.key: read_router(o, env) for o in of(VIRTUAL_ROUTER)}
    targets = Targets(env, nodes)
    builder = TableBuilder(env, routers, targets, RuleBuilder(env, targets))
    model = env.ctx.model
    for vs in of(VIRTUAL_SERVICE):
        tables = builder.tables(vs)
        model.tables.extend(tables)
        if tables:
            model.sources.append(vs.doc)
    for router in routers.values():
        if router.used:
            model.sources.append(router.obj.doc)
            continue
        router.obj.root.use("spec")
        env.report("OBJECT_UNUSED", router.obj, (),
                   "no VirtualService is provided by this VirtualRouter; nothing to convert")
