"""The Process Manager server: PCBs, process lifecycle, execution state."""

from rhodos.process_manager.pcb import PCB, ProcessSnapshot
from rhodos.process_manager.server import ProcessManager

__all__ = ["PCB", "ProcessManager", "ProcessSnapshot"]
