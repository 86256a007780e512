"""The Process Manager server: PCBs, process lifecycle, execution state."""

from rhodos.process_manager.pcb import PCB
from rhodos.process_manager.requests import ProcessSnapshot
from rhodos.process_manager.server import PCBView, ProcessManager, ProcessStatistics

__all__ = ["PCB", "PCBView", "ProcessManager", "ProcessSnapshot", "ProcessStatistics"]
