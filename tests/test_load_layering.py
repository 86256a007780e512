"""Specification of the Load Manager's place in the layering: a server like the others.

``rhodos.load`` holds a server (its requests, policies, trader and tables) and, beside
it, what sits above the servers (the study driver, the queueing models, the
experiment, the command). The server part follows the rules of
``tests/test_layering.py`` for servers; the kernel imports none of it.
"""

from __future__ import annotations

import pytest
import test_layering as layering

#: The modules of the Load Manager server: they obey the servers' rules.
SERVER_SIDE = (
    "rhodos.load",
    "rhodos.load.requests",
    "rhodos.load.policy",
    "rhodos.load.registry",
    "rhodos.load.information",
    "rhodos.load.transfer",
    "rhodos.load.location",
    "rhodos.load.selection",
    "rhodos.load.settings",
    "rhodos.load.presets",
    "rhodos.load.trader",
    "rhodos.load.view",
    "rhodos.load.table",
    "rhodos.load.server",
    "rhodos.load.owner",
)
#: The modules of ``rhodos.load`` that sit above the servers.
ABOVE = (
    "rhodos.load.run",
    "rhodos.load.study",
    "rhodos.load.experiment",
    "rhodos.load.idle",
    "rhodos.load.workstations",
    "rhodos.load.lifetimes",
    "rhodos.load.scenario",
)


@pytest.fixture
def load_is_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layering rules, with the Load Manager counted among the servers."""
    monkeypatch.setattr(layering, "SERVERS", (*layering.SERVERS, "rhodos.load"))
    monkeypatch.setattr(layering, "ABOVE_KERNEL", (*layering.ABOVE_KERNEL, "rhodos.load"))
    monkeypatch.setattr(layering, "ABOVE_SERVERS", (*layering.ABOVE_SERVERS, *ABOVE))


def test_every_module_of_the_package_is_classified() -> None:
    """No module of ``rhodos.load`` escapes the rules by being on neither list."""
    found = {m for m in layering.KNOWN if layering.within(m, "rhodos.load")}
    # leaves: the queueing models, the estimators and the workloads (the kernel only)
    leaves = {"rhodos.load.workload", "rhodos.load.queueing", "rhodos.load.controls"}
    assert found - set(SERVER_SIDE) - set(ABOVE) <= leaves
    assert set(SERVER_SIDE) <= found


@pytest.mark.usefixtures("load_is_a_server")
def test_the_load_manager_talks_only_through_the_kernel_and_other_servers_requests() -> None:
    """It imports the public kernel and other servers' requests modules only, nothing above
    the servers, and reaches into nobody's private state."""
    problems = []
    for module, (path, is_package) in layering.source_modules().items():
        if module in SERVER_SIDE:
            source = path.read_text(encoding="utf-8")
            problems += layering.violations(module, source, is_package=is_package)
    assert problems == []


@pytest.mark.usefixtures("load_is_a_server")
def test_the_kernel_knows_nothing_of_load_sharing() -> None:
    """No kernel module imports ``rhodos.load``."""
    assert layering.package_violations(layering.KERNEL) == []


@pytest.mark.usefixtures("load_is_a_server")
def test_the_checker_catches_a_load_manager_reaching_above_itself() -> None:
    """The rules above are not vacuous for the Load Manager."""
    assert layering.violations("rhodos.load.server", "from rhodos.system import boot")
    assert layering.violations("rhodos.load.server", "from rhodos.load.run import configure")
    assert layering.violations("rhodos.load.policy", "from rhodos.memory_manager import faults")
