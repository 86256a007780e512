"""The strategy registry: built-in strategies, plus plugins from the ``rhodos.strategies``
entry-point group (a package declares ``[project.entry-points."rhodos.strategies"]
my-name = "my_package.module:MyStrategy"``)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import attrs

from rhodos.migration_manager.strategy import RESIDUALS, Strategy
from rhodos.validators import did_you_mean

__all__ = ["UnknownStrategy", "make_strategy", "register", "registered", "unregister"]


class UnknownStrategy(ValueError):
    """A strategy name (or parameter) that is not registered."""


_REGISTRY: dict[str, type[Any]] = {}
_PLUGINS_LOADED = False


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: make a strategy available under ``cls.name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or name == "base":
        raise ValueError(f"strategy class {cls.__name__} needs a class attribute `name`")
    if getattr(cls, "residual", None) not in RESIDUALS:
        raise ValueError(
            f"strategy {name!r}: residual must be one of {', '.join(RESIDUALS)}, "
            f"got {getattr(cls, 'residual', None)!r}"
        )
    if not attrs.has(cls):
        raise ValueError(
            f"strategy {name!r} must be an attrs class (its fields are its parameters)"
        )
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a strategy (tests that register a temporary one)."""
    _REGISTRY.pop(name, None)


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for entry in metadata.entry_points(group="rhodos.strategies"):
        register(entry.load())


def registered() -> dict[str, type[Any]]:
    """Every registered strategy, by name, in the order they were registered: the built-ins
    first (``rhodos.migration_manager`` imports them, in the tables' order), then plugins."""
    _load_plugins()
    return dict(_REGISTRY)


def make_strategy(name: str, **params: Any) -> Strategy:
    """Build the strategy ``name`` with ``params``; errors name what exists."""
    strategies = registered()
    cls = strategies.get(name)
    if cls is None:
        hint = did_you_mean(name, strategies)
        raise UnknownStrategy(
            f"unknown strategy {name!r}{hint}; registered strategies: {', '.join(strategies)}"
        )
    allowed = [f.name for f in attrs.fields(cls) if f.init]
    for key in params:
        if key not in allowed:
            listed = ", ".join(allowed) if allowed else "none"
            raise UnknownStrategy(
                f"strategy {name!r} has no parameter {key!r}; its parameters: {listed}"
            )
    strategy: Strategy = cls(**params)
    return strategy
