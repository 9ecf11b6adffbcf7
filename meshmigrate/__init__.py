"""meshmigrate: move a service mesh's traffic routing onto the Kubernetes Gateway API."""

__version__ = "0.1.0"
