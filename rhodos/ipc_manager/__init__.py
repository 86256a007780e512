"""The IPC Manager server: mailboxes, ordered channels, forwarding, migration hooks."""

from rhodos.ipc_manager.channel import CommState, Inbound
from rhodos.ipc_manager.server import CommView, IPCManager, IPCStatistics

__all__ = ["CommState", "CommView", "IPCManager", "IPCStatistics", "Inbound"]
