"""What a Load Manager runs: one policy of each kind, the migration strategy, the trader.

A :class:`Settings` is a frozen value handed to every node's Load Manager by a
:class:`~rhodos.load.requests.Configure` request; :meth:`Settings.problems` names the
combinations that cannot work, so they are refused before anything runs.
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.load.information import NoInformation
from rhodos.load.location import Local
from rhodos.load.owner import IdleRule
from rhodos.load.selection import Birth
from rhodos.load.transfer import Never

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    """A combination of policies that cannot work, or a setting out of range."""


def _positive(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SettingsError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class Settings:
    """The policies of every node's Load Manager, and how targets are discovered.

    Attributes:
        information: how load information spreads (an information policy).
        transfer: when a node sends or asks for work.
        location: where work goes.
        selection: which process moves (``birth``: placement of newborn processes).
        strategy: the migration strategy preemptive selections migrate with (a
            :class:`~rhodos.migration_manager.Strategy`); unused by placement at birth.
        trader: the node whose Load Manager holds the trader's offers.
        offer_period_s: how often nodes export their offers, and how long an importer
            keeps the trader's answer (offers are that stale at most, plus transit).
        idle: idle workstations (:mod:`~rhodos.load.owner`): place work only on hosts
            idle by this rule, one idle host per request to the trader, and evict guests
            when the owner returns (``None``: every node takes work as its policies say).
    """

    information: Any = attrs.field(factory=NoInformation)
    transfer: Any = attrs.field(factory=Never)
    location: Any = attrs.field(factory=Local)
    selection: Any = attrs.field(factory=Birth)
    strategy: Any = None
    trader: int = 0
    offer_period_s: float = attrs.field(default=5.0, validator=_positive)
    idle: IdleRule | None = None

    @property
    def shares(self) -> bool:
        """Whether any work ever moves."""
        return self.transfer.name != "never"

    def problems(self, nodes: int) -> list[str]:
        """Why these settings cannot run on ``nodes`` compute nodes (empty: they can)."""
        found = []
        kinds = {
            "information": self.information,
            "transfer": self.transfer,
            "location": self.location,
            "selection": self.selection,
        }
        for kind, policy in kinds.items():
            if getattr(policy, "kind", None) != kind:
                found.append(f"{kind} must be a {kind} policy, got {policy!r}")
        if found:
            return found
        moves_running = self.transfer.name in ("receiver", "symmetric", "periodic")
        if moves_running and self.selection.at_birth:
            found.append(
                f"the {self.transfer.name!r} transfer policy moves running processes: choose a "
                "preemptive selection (newest, oldest, age, memory), not 'birth'"
            )
        if self.shares and not self.selection.at_birth and self.strategy is None:
            found.append(
                f"selection {self.selection.name!r} migrates running processes: it needs a "
                "migration strategy"
            )
        if self.idle is not None and self.strategy is None:
            found.append(
                "idle workstations evict guests by migration when the owner returns: they "
                "need a migration strategy"
            )
        if self.location.name == "jsq" and self.information.name != "central":
            found.append(
                "location 'jsq' asks the central load server: use information 'central', "
                f"not {self.information.name!r}"
            )
        if self.location.name == "least-loaded" and self.information.name == "none":
            found.append(
                "location 'least-loaded' needs load information: use information probe, "
                "broadcast, exchange or central, not 'none'"
            )
        for role, node in (("trader", self.trader), ("load server", _server(self.information))):
            if node is not None and not 0 <= node < nodes:
                found.append(f"the {role} node {node} is not a compute node (0..{nodes - 1})")
        return found


def _server(information: Any) -> int | None:
    server = getattr(information, "server", None)
    return server if isinstance(server, int) else None
