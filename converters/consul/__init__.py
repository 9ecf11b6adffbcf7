"""Consul service-mesh config entries (``consul.hashicorp.com/v1alpha1`` ServiceRouter,
ServiceSplitter, ServiceResolver) -> the routing model (semantics.md §6).

Consul compiles the three entries of a service into a *discovery chain*: the router's routes
(first match wins) then a catch-all route to the service itself; a destination without a
subset goes through the target's splitter, then its resolver (redirect, default subset).
The converter walks the same chain (consul ``agent/consul/discoverychain/compile.go``).
"""

from converters.consul.converter import ConsulConverter

CONVERTER = ConsulConverter()

__all__ = ["CONVERTER", "ConsulConverter"]
