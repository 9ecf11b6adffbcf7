"""Request-level semantics: evaluate a request against source configs and Gateway API routes."""
