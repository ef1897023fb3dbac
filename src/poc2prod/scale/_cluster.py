"""Connecting to Ray, and what a cluster has."""

from __future__ import annotations

import os
from typing import Any

from poc2prod.errors import ProjectError


def ray_module():
    """Ray, imported; a clear sentence when the optional dependency is missing."""
    try:
        import ray
    except ImportError:
        raise ProjectError(
            "the Ray backend needs Ray: `pip install 'poc2prod[ray]'` (Ray 2.60, Serve and Data)."
        ) from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None):
    """Ray, connected: to the cluster at ``address`` (``auto`` for the one this machine belongs
    to, ``ray://host:10001`` for a remote one), or, without an address, to a Ray instance started
    here with this machine's cores. A second call in the same process reuses the connection."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)
    except ConnectionError as e:
        raise ProjectError(
            f"no Ray cluster answers at {address!r} ({str(e).splitlines()[0]}); start one with "
            "`ray start --head`, or leave out --address to run on a Ray instance started here."
        ) from None
    return ray


def cluster_status(address: str | None = "auto") -> dict[str, Any]:
    """The address, the nodes alive with their resources, and the resources free now."""
    ray = connect(address)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total, free = ray.cluster_resources(), ray.available_resources()
    return {
        "address": ray.get_runtime_context().gcs_address,
        "ray_version": ray.__version__,
        "nodes": [
            {
                "node": n["NodeManagerAddress"],
                "cpus": n["Resources"].get("CPU", 0.0),
                "gpus": n["Resources"].get("GPU", 0.0),
                "memory_gb": round(n["Resources"].get("memory", 0.0) / 2**30, 1),
                "head": "node:__internal_head__" in n["Resources"],
            }
            for n in nodes
        ],
        "cpus": total.get("CPU", 0.0),
        "cpus_free": free.get("CPU", 0.0),
        "memory_gb": round(total.get("memory", 0.0) / 2**30, 1),
        "object_store_gb": round(total.get("object_store_memory", 0.0) / 2**30, 1),
    }
