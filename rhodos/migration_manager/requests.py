"""The requests the Migration Manager handles."""

from __future__ import annotations

import attrs

from rhodos.kernel import Request
from rhodos.migration_manager.strategy import Strategy

__all__ = ["CallOff", "Checkpoint", "Migrate", "Migrated", "Negotiate"]


@attrs.frozen(eq=False)
class Migrate(Request):
    """System -> the Migration Manager where ``pid`` runs: move it to ``dest`` with
    ``strategy``; reply the :class:`~rhodos.migration_manager.MigrationRecord` (a refusal
    is a record too) once the migration is complete."""

    pid: int
    dest: int
    strategy: Strategy


@attrs.frozen
class Negotiate(Request):
    """Source Migration Manager -> destination Migration Manager: may ``pid``, built for
    ``architecture`` and ``pages`` pages big, come from node ``source``? Reply ``None``
    (yes) or why not. ``ticket`` names this negotiation (source node, number), so that
    the source can call it off."""

    pid: int
    architecture: str
    pages: int
    source: int
    ticket: tuple[int, int]


@attrs.frozen
class CallOff(Request):
    """Source Migration Manager -> destination Migration Manager: the negotiation ``ticket``
    of ``pid`` is called off (the source gave up waiting, or the process exited before it
    could move); the process stays on node ``at``. The destination drops its expectation
    and passes on what it queued for the process, whether the negotiation is handled
    already or not yet (one-way)."""

    pid: int
    ticket: tuple[int, int]
    at: int


@attrs.frozen
class Migrated(Request):
    """Source Migration Manager -> destination Migration Manager: the source holds nothing
    of ``pid`` any more; it may migrate again (one-way)."""

    pid: int


@attrs.frozen
class Checkpoint(Request):
    """Anyone -> the Migration Manager where ``pid`` runs: write a checkpoint of it to the
    file server (``full``: every resident page; else only the pages dirtied since the
    last one); reply the :class:`~rhodos.kernel.CheckpointImage` written, or why not
    (a string: it is migrating, it exited, the file server is down)."""

    pid: int
    full: bool = True
