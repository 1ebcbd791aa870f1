"""Choosing a backend by name, for the bot's configuration ("local", "ray", "inline")."""

from __future__ import annotations

from typing import Any

from engine.pool.inline import InlinePool
from engine.pool.interface import EnginePool, PoolSettings
from engine.pool.local import LocalPool

BACKENDS = ("local", "ray", "inline")


def create_pool(backend: str, engine_settings: Any, settings: PoolSettings | None = None, **options: Any) -> EnginePool:
    """Build (not start) a pool. `options` go to the backend: for "ray", address, transfer, max_restarts,
    num_cpus_per_worker, runtime_env; for "inline", runner (a callable)."""
    if backend == "local":
        return LocalPool(engine_settings, settings, **options)
    if backend == "inline":
        return InlinePool(engine_settings, settings, **options)
    if backend == "ray":
        try:
            from engine.pool.ray_backend import RayPool
        except ImportError as e:
            raise ValueError("the Ray backend needs the `ray` extra: pip install -e '.[ray]' (ray==2.60.0)") from e
        return RayPool(engine_settings, settings, **options)
    raise ValueError(f"unknown engine pool backend {backend!r}; choose one of {', '.join(BACKENDS)}")
