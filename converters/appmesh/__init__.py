"""AWS App Mesh controller resources (``appmesh.k8s.aws/v1beta2`` VirtualService,
VirtualRouter, VirtualNode) -> the routing model.

A VirtualService (``awsName``: the name clients call, a Kubernetes Service) is provided by
a VirtualRouter, whose routes (priority order, first match) send to weighted VirtualNodes,
or directly by one VirtualNode. A VirtualNode is a set of pods reached through its
``serviceDiscovery.dns.hostname``: a Kubernetes Service. Field shapes follow
aws-app-mesh-controller-for-k8s ``apis/appmesh/v1beta2``; defaults follow the App Mesh user
guide (routes.md: 15 s request timeout; envoy-defaults.md: default retry policy).
"""

from converters.appmesh.converter import AppMeshConverter

CONVERTER = AppMeshConverter()

__all__ = ["CONVERTER", "AppMeshConverter"]
