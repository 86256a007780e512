"""Specification of the package's public API: what ``import rhodos`` offers, lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import rhodos


@pytest.mark.parametrize("name", rhodos.__all__)
def test_every_public_name_is_there(name: str) -> None:
    """Each name of ``rhodos.__all__`` resolves to the object its layer exports."""
    value = getattr(rhodos, name)
    layers = [importlib.import_module(layer) for layer in rhodos._LAYERS]
    homes = [layer for layer in layers if name in layer.__all__]
    assert homes and getattr(homes[0], name) is value


def test_an_unknown_name_is_an_attribute_error() -> None:
    """Only the listed names are offered; ``dir`` shows them all."""
    assert set(rhodos.__all__) <= set(dir(rhodos))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rhodos.nope


def test_importing_the_package_imports_no_layer() -> None:
    """``import rhodos`` loads none of the simulator until a name is used."""
    code = "import sys, rhodos; print(sorted(m for m in sys.modules if m.startswith('rhodos.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
