"""Programs that processes run, reference models, and named workloads."""

from rhodos.workload.catalog import (
    WORKLOADS,
    UnknownWorkload,
    Workload,
    make_workload,
    register,
    registered,
    unregister,
)
from rhodos.workload.program import Program, ProgramContext, ProgramGenerator
from rhodos.workload.programs import (
    Client,
    Computer,
    Pinger,
    Ponger,
    RequestServer,
    StreamBroken,
    StreamReceiver,
    StreamSender,
)
from rhodos.workload.reference import ReferenceModel

__all__ = [
    "WORKLOADS",
    "Client",
    "Computer",
    "Pinger",
    "Ponger",
    "Program",
    "ProgramContext",
    "ProgramGenerator",
    "ReferenceModel",
    "RequestServer",
    "StreamBroken",
    "StreamReceiver",
    "StreamSender",
    "UnknownWorkload",
    "Workload",
    "make_workload",
    "register",
    "registered",
    "unregister",
]
