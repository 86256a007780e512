"""The policy registry: built-in policies of the four kinds, plus plugins from the
``rhodos.policies`` entry-point group (a package declares
``[project.entry-points."rhodos.policies"] my-name = "my_package.module:MyPolicy"``; the
class says its own ``kind`` and ``name``)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import attrs

from rhodos.load.policy import KINDS
from rhodos.validators import did_you_mean

__all__ = ["UnknownPolicy", "make_policy", "register", "registered", "unregister"]


class UnknownPolicy(ValueError):
    """A policy kind, name or parameter that is not registered."""


_REGISTRY: dict[str, dict[str, type[Any]]] = {kind: {} for kind in KINDS}
_PLUGINS_LOADED = False


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: make a policy available under its ``kind`` and ``name``."""
    kind = getattr(cls, "kind", None)
    name = getattr(cls, "name", None)
    if kind not in KINDS:
        raise ValueError(
            f"policy class {cls.__name__}: kind must be one of {', '.join(KINDS)}, got {kind!r}"
        )
    if not isinstance(name, str) or not name or name == "base":
        raise ValueError(f"policy class {cls.__name__} needs a class attribute `name`")
    if not attrs.has(cls):
        raise ValueError(f"policy {name!r} must be an attrs class (its fields are its parameters)")
    _REGISTRY[kind][name] = cls
    return cls


def unregister(kind: str, name: str) -> None:
    """Remove a policy (tests that register a temporary one)."""
    _REGISTRY.get(kind, {}).pop(name, None)


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for entry in metadata.entry_points(group="rhodos.policies"):
        register(entry.load())


def registered(kind: str) -> dict[str, type[Any]]:
    """Every registered policy of ``kind``, by name: the built-ins first, then plugins."""
    _load_plugins()
    if kind not in _REGISTRY:
        raise UnknownPolicy(f"unknown policy kind {kind!r}; kinds: {', '.join(KINDS)}")
    return dict(_REGISTRY[kind])


def make_policy(kind: str, name: str, **params: Any) -> Any:
    """Build the ``kind`` policy ``name`` with ``params``; errors name what exists.

    Parameters the policy does not take are refused, so a misspelt one is an error
    before anything runs.
    """
    policies = registered(kind)
    cls = policies.get(name)
    if cls is None:
        hint = did_you_mean(name, policies)
        raise UnknownPolicy(
            f"unknown {kind} policy {name!r}{hint}; {kind} policies: {', '.join(policies)}"
        )
    allowed = [f.name for f in attrs.fields(cls) if f.init]
    for key in params:
        if key not in allowed:
            listed = ", ".join(allowed) if allowed else "none"
            raise UnknownPolicy(
                f"{kind} policy {name!r} has no parameter {key!r}; its parameters: {listed}"
            )
    return cls(**params)
