"""The requests the Migration Manager handles."""

from __future__ import annotations

import attrs

from rhodos.kernel import Request
from rhodos.migration_manager.strategy import Strategy

__all__ = ["Migrate", "Migrated", "Negotiate"]


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
    ``architecture`` and ``pages`` pages big, come? Reply ``None`` (yes) or why not."""

    pid: int
    architecture: str
    pages: int


@attrs.frozen
class Migrated(Request):
    """Source Migration Manager -> destination Migration Manager: the source holds nothing
    of ``pid`` any more; it may migrate again (one-way)."""

    pid: int
