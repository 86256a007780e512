"""The Memory Manager server: address spaces, page faults, page transfers, flushing."""

from rhodos.memory_manager.requests import PageHolder, PageSet, SpaceInfo
from rhodos.memory_manager.server import MemoryManager
from rhodos.memory_manager.space import FILE, HERE, ZERO, AddressSpace
from rhodos.memory_manager.table import MemoryStatistics, SpaceView

__all__ = [
    "FILE",
    "HERE",
    "ZERO",
    "AddressSpace",
    "MemoryManager",
    "MemoryStatistics",
    "PageHolder",
    "PageSet",
    "SpaceInfo",
    "SpaceView",
]
