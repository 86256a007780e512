"""Strategies, workloads and load-sharing policies from a Python file: ``rhodos --plugin
FILE.py``.

A student tries a strategy without making a package: the file defines it and decorates
it with ``@register`` (:func:`rhodos.migration_manager.register`,
:func:`rhodos.workload.register` for a workload, :func:`rhodos.load.register` for a
policy). :func:`load_plugin` imports the file
once per process, checks that it registered something and replaced nothing, and
remembers its path. A sweep config names its plugins too (``plugins = ["mine.py"]``,
relative to the config file). A sweep ships the paths of every plugin loaded
(:func:`loaded_plugins`) with its tasks, and each worker loads them before its first
run: a strategy from a file runs in a process pool, or on a Dask cluster, where the
file must be at the same path on every machine (a shared folder).

Packages register theirs through the entry-point groups ``rhodos.strategies``,
``rhodos.workloads`` and ``rhodos.policies`` instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rhodos.load import registry as policies
from rhodos.load.policy import KINDS
from rhodos.migration_manager import register, registered, unregister
from rhodos.workload import catalog

__all__ = ["PluginError", "isolated", "load_plugin", "load_plugins", "loaded_plugins"]


class PluginError(ValueError):
    """A plugin file that cannot be loaded: the message names the file and what is wrong."""


#: The plugin files loaded in this process (absolute paths, in order), and what each
#: registered.
_LOADED: dict[str, list[str]] = {}


#: What a plugin may register, by the words an error names it with.
KINDS_REGISTERED = ("strategy", "workload", *(f"{kind} policy" for kind in KINDS))


def _registries() -> dict[str, dict[str, type[Any]]]:
    found = {"strategy": registered(), "workload": catalog.registered()}
    for kind in KINDS:
        found[f"{kind} policy"] = policies.registered(kind)
    return found


def _unregisters() -> list[tuple[str, Any, Any]]:
    """Each registry's words, how a name leaves it, and how a class enters it."""
    pairs: list[tuple[str, Any, Any]] = [
        ("strategy", unregister, register),
        ("workload", catalog.unregister, catalog.register),
    ]
    for kind in KINDS:
        pairs.append(
            (f"{kind} policy", lambda name, k=kind: policies.unregister(k, name), policies.register)
        )
    return pairs


def _restore(before: dict[str, dict[str, type[Any]]]) -> None:
    """Put every registry back as it was in ``before``."""
    now = _registries()
    for kind, drop, put in _unregisters():
        for name in set(now[kind]) - set(before[kind]):
            drop(name)
        for name, cls in before[kind].items():
            if now[kind].get(name) is not cls:
                put(cls)


def _where(error: BaseException, path: str) -> str:
    """`` (line N)`` of the plugin's own frame that raised, if any."""
    if isinstance(error, SyntaxError) and error.lineno:
        return f" (line {error.lineno})"
    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    return f" (line {lines[-1]})" if lines else ""


def load_plugin(path: str | Path) -> list[str]:
    """Import the Python file ``path`` (once per process); what it registered, as
    ``strategy NAME`` / ``workload NAME``.

    Raises:
        PluginError: the file is missing or not Python, importing it raised, it
            registered nothing, or it registered a name that was taken.
    """
    shown = Path(path)
    if shown.suffix != ".py":
        raise PluginError(f"--plugin {shown}: a plugin is a Python file (.py)")
    if not shown.is_file():
        raise PluginError(f"--plugin {shown}: no such file")
    key = str(shown.resolve())
    if key in _LOADED:
        return _LOADED[key]
    before = _registries()
    stem = re.sub(r"\W", "_", shown.stem)
    module_name = f"rhodos_plugin_{stem}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, key)
    if spec is None or spec.loader is None:
        raise PluginError(f"--plugin {shown}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(module_name, None)
        _restore(before)
        raise PluginError(
            f"--plugin {shown}: importing it raised {type(error).__name__}: {error}"
            f"{_where(error, key)}"
        ) from None
    after = _registries()
    added = []
    for kind in KINDS_REGISTERED:
        for name, cls in after[kind].items():
            old = before[kind].get(name)
            if old is not None and old is not cls:
                _restore(before)
                sys.modules.pop(module_name, None)
                raise PluginError(
                    f"--plugin {shown}: it registers the {kind} {name!r}, which is taken "
                    f"({old.__module__}.{old.__qualname__}): give it another name"
                )
            if old is None:
                added.append(f"{kind} {name}")
    if not added:
        raise PluginError(
            f"--plugin {shown}: it registers no strategy, workload or policy (decorate a "
            "class with @register from rhodos.migration_manager, rhodos.workload or "
            "rhodos.load)"
        )
    _LOADED[key] = added
    return added


def load_plugins(paths: Iterable[str | Path]) -> None:
    """Load every plugin of ``paths`` (see :func:`load_plugin`)."""
    for path in paths:
        load_plugin(path)


def loaded_plugins() -> tuple[str, ...]:
    """The plugin files loaded in this process, as absolute paths, in the order loaded."""
    return tuple(_LOADED)


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """Within: plugins load as usual; after: the registries and the plugins loaded are
    what they were (for tests, and notebooks that try one plugin after another)."""
    before = _registries()
    loaded = dict(_LOADED)
    try:
        yield
    finally:
        _restore(before)
        _LOADED.clear()
        _LOADED.update(loaded)
