"""The built-in strategies, one module each; importing this package registers them.

They are imported, so registered, in the order the tables and charts list them.
"""

# isort: off
from rhodos.migration_manager.strategies.eager import Eager
from rhodos.migration_manager.strategies.eager_dirty import EagerDirty
from rhodos.migration_manager.strategies.precopy import Precopy
from rhodos.migration_manager.strategies.copy_on_reference import CopyOnReference
from rhodos.migration_manager.strategies.flushing import Flushing
from rhodos.migration_manager.strategies.freeze_free import FreezeFree
from rhodos.migration_manager.strategies.postcopy import Postcopy
from rhodos.migration_manager.strategies.checkpoint_restart import CheckpointRestart
from rhodos.migration_manager.strategies.auto import Auto

# isort: on

#: The built-in strategies in the order the tables and charts list them.
BUILTINS = (
    Eager,
    EagerDirty,
    Precopy,
    CopyOnReference,
    Flushing,
    FreezeFree,
    Postcopy,
    CheckpointRestart,
    Auto,
)

__all__ = [
    "BUILTINS",
    "Auto",
    "CheckpointRestart",
    "CopyOnReference",
    "Eager",
    "EagerDirty",
    "Flushing",
    "FreezeFree",
    "Postcopy",
    "Precopy",
]
