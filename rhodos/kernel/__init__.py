"""The microkernel and the hardware: the only API the servers may use.

Servers import from ``rhodos.kernel`` and nothing deeper; the kernel imports no server
(``tests/test_layering.py`` enforces both). The requests the kernel itself makes of the
servers (a thread's traps) and those of the file server, a node of the kernel's own,
are declared here too.
"""

from rhodos.kernel.actions import (
    Action,
    CloseFile,
    Compute,
    Exit,
    HomeCall,
    OpenFile,
    Receive,
    Send,
    Sleep,
    Touch,
    WriteFile,
)
from rhodos.kernel.cluster import MAX_NODES, Cluster, ClusterConfig, ConfigError
from rhodos.kernel.context import ExecutionContext
from rhodos.kernel.cpu import CPU, CPUStatistics
from rhodos.kernel.failure import (
    Detection,
    LogReceive,
    NodeCrashed,
    ProcessFailed,
    Recorder,
    Undeliverable,
)
from rhodos.kernel.file_requests import (
    CheckpointImage,
    FileRPC,
    ForgetPages,
    ReadCheckpoint,
    ReadPages,
    StoreCheckpoint,
    WriteBlocks,
    WritePages,
)
from rhodos.kernel.fileserver import FileServer
from rhodos.kernel.layout import (
    FILE,
    HERE,
    INITIAL_STACK_BYTES,
    SEGMENTS,
    ZERO,
    Layout,
    Segment,
)
from rhodos.kernel.ledger import TrafficLedger, TrafficTally
from rhodos.kernel.log import EventLog, LogEvent, structlog_listener
from rhodos.kernel.message import (
    TRAFFIC_KINDS,
    Failure,
    Message,
    Port,
    Request,
    RequestFailed,
    UserMessage,
)
from rhodos.kernel.network import TOPOLOGIES, Network
from rhodos.kernel.node import Kernel, Node, OutOfMemory, Pager, Runnable, Service
from rhodos.kernel.profile import MachineProfile, ProfileError, builtin_profiles, load_profile
from rhodos.kernel.server import Handler, Reply, Server, UnknownRequest
from rhodos.kernel.thread import LOST_EXIT_CODE, Thread, ThreadState
from rhodos.kernel.traps import (
    CancelReceive,
    FileCall,
    HomeService,
    PageFault,
    ReceiveMessage,
    SendMessage,
    ThreadExited,
)

__all__ = [
    "CPU",
    "FILE",
    "HERE",
    "INITIAL_STACK_BYTES",
    "LOST_EXIT_CODE",
    "MAX_NODES",
    "SEGMENTS",
    "TOPOLOGIES",
    "TRAFFIC_KINDS",
    "ZERO",
    "Action",
    "CPUStatistics",
    "CancelReceive",
    "CheckpointImage",
    "CloseFile",
    "Cluster",
    "ClusterConfig",
    "Compute",
    "ConfigError",
    "Detection",
    "EventLog",
    "ExecutionContext",
    "Exit",
    "Failure",
    "FileCall",
    "FileRPC",
    "FileServer",
    "ForgetPages",
    "Handler",
    "HomeCall",
    "HomeService",
    "Kernel",
    "Layout",
    "LogEvent",
    "LogReceive",
    "MachineProfile",
    "Message",
    "Network",
    "Node",
    "NodeCrashed",
    "OpenFile",
    "OutOfMemory",
    "PageFault",
    "Pager",
    "Port",
    "ProcessFailed",
    "ProfileError",
    "ReadCheckpoint",
    "ReadPages",
    "Receive",
    "ReceiveMessage",
    "Recorder",
    "Reply",
    "Request",
    "RequestFailed",
    "Runnable",
    "Segment",
    "Send",
    "SendMessage",
    "Server",
    "Service",
    "Sleep",
    "StoreCheckpoint",
    "Thread",
    "ThreadExited",
    "ThreadState",
    "Touch",
    "TrafficLedger",
    "TrafficTally",
    "Undeliverable",
    "UnknownRequest",
    "UserMessage",
    "WriteBlocks",
    "WriteFile",
    "WritePages",
    "builtin_profiles",
    "load_profile",
    "structlog_listener",
]
