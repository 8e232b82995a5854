"""The sandbox Kubernetes API server: object store, REST routes, discovery, tables."""
