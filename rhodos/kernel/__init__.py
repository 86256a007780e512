"""The microkernel and the hardware: the only API the servers may use.

Servers import from ``rhodos.kernel`` and nothing deeper; the kernel imports no server
(``tests/test_layering.py`` enforces both).
"""

from rhodos.kernel.actions import (
    Action,
    Compute,
    Exit,
    HomeCall,
    Receive,
    Send,
    Sleep,
    Touch,
)
from rhodos.kernel.cluster import Cluster, ClusterConfig, ConfigError
from rhodos.kernel.cpu import CPU, CPUStatistics
from rhodos.kernel.fileserver import FileServer
from rhodos.kernel.layout import FILE, HERE, SEGMENTS, ZERO, Layout, Segment
from rhodos.kernel.ledger import TrafficLedger, TrafficTally
from rhodos.kernel.log import EventLog, LogEvent, structlog_listener
from rhodos.kernel.message import TRAFFIC_KINDS, Message, Port, UserMessage
from rhodos.kernel.network import TOPOLOGIES, Network
from rhodos.kernel.node import Node, OutOfMemory, Pager
from rhodos.kernel.profile import MachineProfile, ProfileError, builtin_profiles, load_profile
from rhodos.kernel.server import Handler, Reply, Server, UnknownRequest
from rhodos.kernel.thread import ExecutionContext, Thread, ThreadState

__all__ = [
    "CPU",
    "FILE",
    "HERE",
    "SEGMENTS",
    "TOPOLOGIES",
    "TRAFFIC_KINDS",
    "ZERO",
    "Action",
    "CPUStatistics",
    "Cluster",
    "ClusterConfig",
    "Compute",
    "ConfigError",
    "EventLog",
    "ExecutionContext",
    "Exit",
    "FileServer",
    "Handler",
    "HomeCall",
    "Layout",
    "LogEvent",
    "MachineProfile",
    "Message",
    "Network",
    "Node",
    "OutOfMemory",
    "Pager",
    "Port",
    "ProfileError",
    "Receive",
    "Reply",
    "Segment",
    "Send",
    "Server",
    "Sleep",
    "Thread",
    "ThreadState",
    "Touch",
    "TrafficLedger",
    "TrafficTally",
    "UnknownRequest",
    "UserMessage",
    "builtin_profiles",
    "load_profile",
    "structlog_listener",
]
