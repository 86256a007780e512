"""The Migration Manager server and its pluggable strategies.

Importing this package registers the built-in strategies (in the order the tables and
charts list them); plugins of the ``rhodos.strategies`` entry-point group follow.
"""

from rhodos.memory_manager.requests import PageHolder, PageSet
from rhodos.migration_manager.record import MIGRATION_COST_KINDS, MigrationRecord
from rhodos.migration_manager.registry import (
    UnknownStrategy,
    make_strategy,
    register,
    registered,
    unregister,
)
from rhodos.migration_manager.requests import Migrate
from rhodos.migration_manager.server import MigrationManager, MigrationView
from rhodos.migration_manager.session import Session, Steps
from rhodos.migration_manager.strategies import BUILTINS
from rhodos.migration_manager.strategy import BaseStrategy, Strategy, non_negative, positive

__all__ = [
    "BUILTINS",
    "MIGRATION_COST_KINDS",
    "BaseStrategy",
    "Migrate",
    "MigrationManager",
    "MigrationRecord",
    "MigrationView",
    "PageHolder",
    "PageSet",
    "Session",
    "Steps",
    "Strategy",
    "UnknownStrategy",
    "make_strategy",
    "non_negative",
    "positive",
    "register",
    "registered",
    "unregister",
]
