"""The node agent: what a Kubernetes node brings to the sandbox (kubelet, pod network, proxy).

It is the only part of drills.sandbox allowed to import the official kubernetes client.
"""
