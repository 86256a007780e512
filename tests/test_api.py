"""Specification of the package's public API: what ``import rhodos`` offers, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rhodos


@pytest.mark.parametrize("name", rhodos.__all__)
def test_every_public_name_is_there(name: str) -> None:
    """Each name of ``rhodos.__all__`` resolves, and is the object of its own layer."""
    value = getattr(rhodos, name)
    home = rhodos._HOMES[name]
    assert getattr(sys.modules[home], name) is value


def test_the_public_names_are_exactly_those_listed() -> None:
    """``__all__`` and the lazy table name the same things; an unknown name is an error."""
    assert sorted(rhodos.__all__) == sorted(rhodos._HOMES)
    assert set(rhodos.__all__) <= set(dir(rhodos))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rhodos.nope


def test_importing_the_package_imports_no_layer() -> None:
    """``import rhodos`` loads none of the simulator until a name is used."""
    code = "import sys, rhodos; print(sorted(m for m in sys.modules if m.startswith('rhodos.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
