"""The Migration Manager server and its pluggable strategies."""

from rhodos.migration_manager.record import MIGRATION_COST_KINDS, MigrationRecord
from rhodos.migration_manager.registry import (
    UnknownStrategy,
    make_strategy,
    register,
    registered,
    unregister,
)
from rhodos.migration_manager.server import MigrationManager
from rhodos.migration_manager.session import Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy, Strategy, non_negative, positive

__all__ = [
    "MIGRATION_COST_KINDS",
    "BaseStrategy",
    "MigrationManager",
    "MigrationRecord",
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
