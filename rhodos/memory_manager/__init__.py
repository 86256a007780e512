"""The Memory Manager server: address spaces, page faults, page transfers, flushing."""

from rhodos.memory_manager.server import MemoryManager, MemoryStatistics, SpaceInfo
from rhodos.memory_manager.space import FILE, HERE, ZERO, AddressSpace

__all__ = ["FILE", "HERE", "ZERO", "AddressSpace", "MemoryManager", "MemoryStatistics", "SpaceInfo"]
