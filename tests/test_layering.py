"""Specification of the layering: the kernel is a core, servers use only its public API.

Every ``import`` in ``rhodos/`` (including imports inside functions and under
``TYPE_CHECKING``) is parsed with :mod:`ast` and checked against the rules of
DESIGN.md: the kernel imports no server and nothing built on top of it; a server
package imports nothing of another server, only the public ``rhodos.kernel`` of the
kernel, and not the system that assembles the servers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rhodos

ROOT = Path(rhodos.__file__).parent

KERNEL = "rhodos.kernel"
SERVERS = (
    "rhodos.process_manager",
    "rhodos.memory_manager",
    "rhodos.ipc_manager",
    "rhodos.migration_manager",
)
#: What sits above the kernel: the kernel imports none of it.
ABOVE_KERNEL = (*SERVERS, "rhodos.system", "rhodos.workload", "rhodos.experiment", "rhodos.cli")
#: What sits above the servers: no server imports it.
ABOVE_SERVERS = ("rhodos.system", "rhodos.experiment", "rhodos.cli")


def within(module: str, package: str) -> bool:
    """Whether ``module`` is ``package`` or inside it."""
    return module == package or module.startswith(package + ".")


def module_name(path: Path) -> str:
    """The dotted name of a source file under ``rhodos/``."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: name -> (path, is a package)."""
    return {
        module_name(path): (path, path.name == "__init__.py") for path in sorted(ROOT.rglob("*.py"))
    }


KNOWN = frozenset(source_modules())


def imports_of(module: str, source: str, *, is_package: bool = False) -> set[str]:
    """The modules that ``module``'s source imports, relative imports resolved.

    ``from package import name`` also counts ``package.name`` when that is a module.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(
                f"{target}.{alias.name}"
                for alias in node.names
                if f"{target}.{alias.name}" in KNOWN
            )
    return found


def rule_broken(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when it may."""
    if within(importer, KERNEL):
        for package in ABOVE_KERNEL:
            if within(imported, package):
                return f"the kernel ({importer}) imports {imported}"
    server = next((s for s in SERVERS if within(importer, s)), None)
    if server is None:
        return None
    for other in SERVERS:
        if other != server and within(imported, other):
            return f"server {importer} imports another server: {imported}"
    if within(imported, KERNEL) and imported != KERNEL:
        return f"server {importer} imports kernel internals: {imported} (use rhodos.kernel)"
    for package in ABOVE_SERVERS:
        if within(imported, package):
            return f"server {importer} imports {imported}, which sits above the servers"
    return None


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Every layering rule the source of ``module`` breaks."""
    found = imports_of(module, source, is_package=is_package)
    return sorted(filter(None, (rule_broken(module, imported) for imported in found)))


def package_violations(*packages: str) -> list[str]:
    """The violations of every module of ``packages`` in the source tree."""
    problems = []
    for module, (path, is_package) in source_modules().items():
        if any(within(module, p) for p in packages):
            source = path.read_text(encoding="utf-8")
            problems += violations(module, source, is_package=is_package)
    return problems


# -- the source tree --------------------------------------------------------------------


def test_the_tree_holds_the_kernel_and_the_servers() -> None:
    """The checker sees the kernel and the three running servers (it is not checking nothing)."""
    assert {"rhodos.kernel", "rhodos.kernel.cluster", "rhodos.kernel.thread"} <= KNOWN
    assert {"rhodos.memory_manager.server", "rhodos.ipc_manager.server"} <= KNOWN
    assert "rhodos.process_manager.server" in KNOWN


def test_kernel_imports_no_server_and_nothing_above_it() -> None:
    """No kernel module imports a server package, the system, workloads, experiments or the CLI."""
    assert package_violations(KERNEL) == []


def test_servers_use_only_the_public_kernel_and_no_other_server() -> None:
    """Server packages import nothing of each other, only ``rhodos.kernel``, never the system."""
    assert package_violations(*SERVERS) == []


# -- the checker ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("rhodos.kernel.bad", "from rhodos.memory_manager import MemoryManager"),
        ("rhodos.kernel.bad", "import rhodos.system"),
        ("rhodos.kernel.bad", "def late():\n    from rhodos.workload import Computer\n"),
        ("rhodos.kernel.bad", "from ..ipc_manager.server import IPCManager"),
        ("rhodos.ipc_manager.bad", "from rhodos.kernel.node import Node"),
        ("rhodos.ipc_manager.bad", "from rhodos.kernel import node"),
        ("rhodos.memory_manager.bad", "from ..process_manager import PCB"),
        ("rhodos.process_manager.bad", "from rhodos import ipc_manager"),
        ("rhodos.migration_manager.strategies.bad", "from rhodos.system import boot"),
        (
            "rhodos.migration_manager.bad",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from rhodos.memory_manager import AddressSpace\n",
        ),
    ],
)
def test_checker_detects_a_violation(module: str, source: str) -> None:
    """A synthetic module that breaks a rule is reported."""
    assert violations(module, source) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("rhodos.kernel.good", "from rhodos.kernel.node import Node\nfrom .cpu import CPU"),
        ("rhodos.memory_manager.good", "from rhodos.kernel import Layout\nfrom .space import ZERO"),
        ("rhodos.system", "from rhodos.memory_manager import MemoryManager"),
    ],
)
def test_checker_accepts_allowed_imports(module: str, source: str) -> None:
    """Kernel-internal imports, the public kernel and the system's assembly are allowed."""
    assert violations(module, source) == []
