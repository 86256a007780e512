"""Specification of the layering: a kernel core, servers that talk only by message, no circles.

Every ``import`` in ``rhodos/`` (including imports inside functions and under
``TYPE_CHECKING``) is parsed with :mod:`ast` and checked against the rules of
DESIGN.md:

* the kernel imports no server and nothing built on top of it;
* a server package imports only the public ``rhodos.kernel``, and of another server
  only its ``requests`` module (the messages they exchange), never the system that
  assembles the servers;
* no module imports itself back through any chain of imports: the import graph of the
  whole package has no circle. Imports under ``TYPE_CHECKING`` count: a circle of
  types is still a circle a reader has to follow round, and a small Protocol breaks it
  honestly (``Node`` needs ``Kernel`` services, not the ``Cluster``);
* a server's state is read only by the checkers of ``rhodos.testing``, through the
  kernel's debug accessor and the servers' read-only ``snapshot`` API; a server never
  reaches past its node into the kernel, nor into another object's private attributes.

The rules name packages and roles, not files, so they hold whatever modules the
packages are split into.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import rhodos

ROOT = Path(rhodos.__file__).parent

KERNEL = "rhodos.kernel"
SERVERS = (
    "rhodos.process_manager",
    "rhodos.memory_manager",
    "rhodos.ipc_manager",
    "rhodos.file_manager",
    "rhodos.migration_manager",
)
#: The one module of a server that the other servers may import: its requests and replies.
REQUESTS = "requests"
#: What sits above the kernel: the kernel imports none of it.
ABOVE_KERNEL = (
    *SERVERS,
    "rhodos.system",
    "rhodos.workload",
    "rhodos.experiment",
    "rhodos.cli",
    "rhodos.testing",
)
#: What sits above the servers: no server imports it.
ABOVE_SERVERS = ("rhodos.system", "rhodos.experiment", "rhodos.cli", "rhodos.testing")
#: The only package that may read a server's state.
TESTING = "rhodos.testing"
#: The debug accessor that hands out a server, and the servers' read-only state API.
DEBUG_API = ("debug_server", "snapshot")
#: What hands a request to a server without a message: the operator's console only.
OUTSIDE_API = ("submit",)
#: What would take a server past its node into the kernel itself.
KERNEL_ATTRIBUTES = ("cluster", "_kernel")


#: Import circles of the experiment layer and the command line that are being broken
#: (the sweep's plan types, the command groups); remove each once it is gone.
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

    ``from package import name`` counts ``package.name`` when that is a module, and the
    package itself unless every name imported is a module of it.
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
            submodules = {
                f"{target}.{alias.name}"
                for alias in node.names
                if f"{target}.{alias.name}" in KNOWN
            }
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
    return found


def server_of(module: str) -> str | None:
    """The server package ``module`` belongs to, if any."""
    return next((s for s in SERVERS if within(module, s)), None)


def rule_broken(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when it may."""
    if within(importer, KERNEL):
        for package in ABOVE_KERNEL:
            if within(imported, package):
                return f"the kernel ({importer}) imports {imported}"
    server = server_of(importer)
    if server is None:
        return None
    other = server_of(imported)
    if other is not None and other != server and imported != f"{other}.{REQUESTS}":
        return (
            f"server {importer} imports {imported}: of another server only its "
            f"{REQUESTS} module ({other}.{REQUESTS})"
        )
    if within(imported, KERNEL) and imported != KERNEL:
        return f"server {importer} imports kernel internals: {imported} (use rhodos.kernel)"
    for package in ABOVE_SERVERS:
        if within(imported, package):
            return f"server {importer} imports {imported}, which sits above the servers"
    return None


def attribute_rule_broken(module: str, node: ast.Attribute) -> str | None:
    """Why ``module`` may not use the attribute ``node``, or None when it may."""
    name = node.attr
    if name in DEBUG_API and not within(module, TESTING):
        return f"{module} uses .{name}, which only {TESTING} may (a server's state is private)"
    if server_of(module) is None:
        return None
    if name in OUTSIDE_API:
        return f"server {module} uses .{name}: servers send each other messages"
    if name in KERNEL_ATTRIBUTES:
        return f"server {module} reaches past its node into the kernel (.{name})"
    owner = node.value
    private = name.startswith("_") and not name.startswith("__")
    if private and not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
        return f"server {module} reaches into another object's private attribute .{name}"
    return None


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Every layering rule the source of ``module`` breaks."""
    found = imports_of(module, source, is_package=is_package)
    broken = [rule_broken(module, imported) for imported in found]
    broken += [
        attribute_rule_broken(module, node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
    ]
    return sorted(set(filter(None, broken)))


def package_violations(*packages: str) -> list[str]:
    """The violations of every module of ``packages`` in the source tree."""
    problems = []
    for module, (path, is_package) in source_modules().items():
        if any(within(module, p) for p in packages):
            source = path.read_text(encoding="utf-8")
            problems += violations(module, source, is_package=is_package)
    return problems


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``rhodos`` it imports (anywhere in it, TYPE_CHECKING too)."""
    graph = {}
    for module, (path, is_package) in source_modules().items():
        found = imports_of(module, path.read_text(encoding="utf-8"), is_package=is_package)
        graph[module] = {m for m in found if m in KNOWN and m != module}
    return graph


def circles(graph: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The import circles of ``graph``: its strongly connected parts of two modules or more.

    Tarjan's algorithm, with an explicit stack (no recursion limit to meet).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.get(step, ())))))
                elif step in on_stack:
                    low[module] = min(low[module], index[step])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                part = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.add(member)
                    if member == module:
                        break
                if len(part) > 1:
                    found.append(frozenset(part))
    return found


# -- the source tree --------------------------------------------------------------------


def test_the_tree_holds_the_kernel_and_the_servers() -> None:
    """The checker sees the kernel and the running servers (it is not checking nothing)."""
    assert {"rhodos.kernel", "rhodos.kernel.cluster", "rhodos.kernel.thread"} <= KNOWN
    assert {"rhodos.memory_manager.server", "rhodos.ipc_manager.server"} <= KNOWN
    assert {f"{server}.{REQUESTS}" for server in SERVERS} <= KNOWN


def test_kernel_imports_no_server_and_nothing_above_it() -> None:
    """No kernel module imports a server package, the system, workloads, experiments or the CLI."""
    assert package_violations(KERNEL) == []


def test_servers_talk_only_through_the_kernel_and_each_others_requests() -> None:
    """Server packages import only ``rhodos.kernel`` and other servers' ``requests`` modules,
    and reach neither into the kernel nor into another object's private state."""
    assert package_violations(*SERVERS) == []


def test_only_the_testing_package_reads_a_servers_state() -> None:
    """Outside ``rhodos.testing`` nothing uses the debug accessor or a snapshot API."""
    outside = [m for m in KNOWN if not within(m, TESTING)]
    assert package_violations(*outside) == []


def test_the_testing_package_reads_state_only_through_the_snapshot_api() -> None:
    """The checkers do use the accessor (the rule above is not vacuous) and nothing private."""
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for module, (path, _) in source_modules().items()
        if within(module, TESTING)
    )
    assert ".debug_server(" in source and ".snapshot(" in source
    for private in (".spaces", ".pcbs", ".comm", ".stored_versions"):
        assert private not in source, private


def test_the_package_has_no_import_circle() -> None:
    """The import graph of ``rhodos`` (function-level and TYPE_CHECKING imports too) is acyclic."""
    found = circles(import_graph())
    assert [sorted(c) for c in found] == []


# -- the checker ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("rhodos.kernel.bad", "from rhodos.memory_manager import MemoryManager"),
        ("rhodos.kernel.bad", "from rhodos.memory_manager.requests import Fetch"),
        ("rhodos.kernel.bad", "import rhodos.system"),
        ("rhodos.kernel.bad", "def late():\n    from rhodos.workload import Computer\n"),
        ("rhodos.kernel.bad", "from ..ipc_manager.server import IPCManager"),
        ("rhodos.ipc_manager.bad", "from rhodos.kernel.node import Node"),
        ("rhodos.ipc_manager.bad", "from rhodos.kernel import node"),
        ("rhodos.memory_manager.bad", "from ..process_manager import PCB"),
        ("rhodos.memory_manager.bad", "from rhodos.process_manager.pcb import PCB"),
        ("rhodos.process_manager.bad", "from rhodos import ipc_manager"),
        ("rhodos.process_manager.bad", "from rhodos.ipc_manager import requests, server"),
        ("rhodos.migration_manager.strategies.bad", "from rhodos.system import boot"),
        ("rhodos.migration_manager.bad", "from rhodos.testing import Harness"),
        (
            "rhodos.migration_manager.bad",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from rhodos.memory_manager import AddressSpace\n",
        ),
        ("rhodos.memory_manager.bad", "def f(self):\n    return self.node.cluster.location_of\n"),
        ("rhodos.memory_manager.bad", "def f(self):\n    return self.node._kernel\n"),
        ("rhodos.memory_manager.bad", "def f(space):\n    return space._bounds\n"),
        (
            "rhodos.memory_manager.bad",
            "def f(self, req):\n    return self.node.submit('ipc', req)\n",
        ),
        ("rhodos.system", "def f(node):\n    return node.debug_server('process')\n"),
        ("rhodos.experiment.bad", "def f(mm, pid):\n    return mm.snapshot(pid)\n"),
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
        ("rhodos.process_manager.good", "from rhodos.memory_manager.requests import Create"),
        ("rhodos.migration_manager.good", "from rhodos.ipc_manager import requests as ipc"),
        ("rhodos.memory_manager.good", "def f(self):\n    return self._counts, self.node.log\n"),
        ("rhodos.system", "from rhodos.memory_manager import MemoryManager"),
        ("rhodos.system", "def f(node, r):\n    return node.submit('migration', r)\n"),
        (
            "rhodos.testing.good",
            "def f(node, pid):\n    return node.debug_server('ipc').snapshot(pid)",
        ),
    ],
)
def test_checker_accepts_allowed_imports(module: str, source: str) -> None:
    """Kernel-internal imports, the public kernel, other servers' requests, the system's
    assembly and the checkers' debug accessor are allowed."""
    assert violations(module, source) == []


def test_circles_are_found_through_any_chain_and_only_there() -> None:
    """A chain a -> b -> c -> a is one circle; a module importing into it is not part of it."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert circles(graph) == [frozenset({"a", "b", "c"})]


def test_type_checking_and_function_level_imports_make_circles_too() -> None:
    """An import under TYPE_CHECKING or inside a function is an edge of the graph."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from rhodos.kernel.cluster import Cluster\n"
        "def late():\n"
        "    from rhodos.kernel.thread import Thread\n"
    )
    found = imports_of("rhodos.kernel.node", source)
    assert {"rhodos.kernel.cluster", "rhodos.kernel.thread"} <= found
