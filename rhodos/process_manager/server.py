"""The Process Manager server: PCBs, lifecycle, and execution state.

One per node. Its private table holds the PCBs of the processes on its node; a process
that exits here is kept in ``finished`` for accounting. It also stands in for the home
node of its processes: location-dependent calls of a process that migrated away come
back here (as Sprite's home node and MOSIX's deputy do).

Requests (kind -> what it does):

* ``spawn`` (pid, name, program, layout): create the address space (Memory Manager),
  the communication state (IPC Manager), the PCB and the thread; replies the pid.
* ``exited`` (pid): the thread ended; release the memory and the communication state.
* ``suspend`` / ``resume`` (pid): freeze the thread here (replies the instant it
  stopped) / start it again here.
* ``migrate_out`` (pid, dest): freeze (if still running), extract the execution state
  and send it to ``dest``'s Process Manager as one message (``install``).
* ``install`` (pcb, start): the execution state arrives; ``start`` resumes at once.
* ``departed`` (pid, dest): the destination of a one-way ``migrate_out`` committed the
  process; the source lets go of its PCB (until then the process is in transit and the
  source still holds it: a process is never on zero nodes).
* ``home_call`` (pid, kind, service_s, size, caller): serve a location-dependent call.
* ``status`` (pid): the PCB snapshot.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from rhodos.kernel import ExecutionContext, Handler, Message, Node, Reply, Server, Thread
from rhodos.process_manager.pcb import PCB, ProcessSnapshot

__all__ = ["ProcessManager"]


class ProcessManager(Server):
    """Owns the process state of the processes on its node."""

    role = "process"

    def __init__(self, node: Node) -> None:
        self.pcbs: dict[int, PCB] = {}
        self.finished: dict[int, PCB] = {}
        self.departed: dict[int, int] = {}
        self.home_calls_served = 0
        super().__init__(node)

    def handlers(self) -> dict[str, Handler]:
        return {
            "spawn": self._spawn,
            "exited": self._exited,
            "suspend": self._suspend,
            "resume": self._resume,
            "migrate_out": self._migrate_out,
            "install": self._install,
            "departed": self._departed,
            "home_call": self._home_call,
            "status": self._status,
        }

    def snapshots(self) -> list[ProcessSnapshot]:
        """Every process this node holds or saw exit, in pid order."""
        pcbs = {**self.finished, **self.pcbs}
        return [pcbs[pid].snapshot() for pid in sorted(pcbs)]

    # -- lifecycle -----------------------------------------------------------------
    def _spawn(self, msg: Message) -> Generator[simpy.events.Event, Any, int]:
        pid, name, program, layout = msg.body
        node = self.node
        yield node.call(node.role_port("memory"), "create", (pid, layout))
        yield node.call(node.role_port("ipc"), "open", pid)
        context = ExecutionContext(pid=pid, home=node.node_id, program=program)
        pcb = PCB(pid, name, node.node_id, node.node_id, layout, self.env.now, context=context)
        self.pcbs[pid] = pcb
        node.cluster.home_of[pid] = node.node_id
        node.cluster.commit_location(pid, node.node_id)
        Thread(node, context)
        self.log("spawn", pid=pid, name=name, pages=layout.pages)
        return pid

    def _exited(self, msg: Message) -> Generator[simpy.events.Event, Any, None]:
        pid = msg.body
        pcb = self.pcbs.pop(pid)
        pcb.state = "exited"
        pcb.exited_at = self.env.now
        self.finished[pid] = pcb
        yield self.node.call(self.node.role_port("memory"), "free", (pid, True))
        yield self.node.call(self.node.role_port("ipc"), "close", pid)
        self.log("exited", pid=pid)
        code = pcb.context.exit_code if pcb.context else 0
        event = self.node.cluster.exit_event(pid)
        if not event.triggered:
            event.succeed(code)

    def _freeze(self, pid: int) -> Generator[simpy.events.Event, Any, PCB | None]:
        """Stop ``pid``'s thread; ``None`` when the process is not here or exited meanwhile."""
        pcb = self.pcbs.get(pid)
        if pcb is None:
            return None
        thread = self.node.threads.get(pid)
        if thread is not None:
            context = yield thread.freeze()
            if context is None:
                return None
            pcb.context = context
        pcb.state = "frozen"
        return pcb

    def _suspend(self, msg: Message) -> Generator[simpy.events.Event, Any, float | None]:
        """Freeze the process; reply the instant it stopped (``None``: not here, or exited)."""
        pcb = yield from self._freeze(msg.body)
        if pcb is None:
            return None
        self.log("suspend", pid=msg.body)
        return float(self.env.now)

    def _resume(self, msg: Message) -> Generator[simpy.events.Event, Any, bool]:
        pcb = self.pcbs[msg.body]
        if pcb.state == "running":
            return False
        yield self.node.kernel_work(self.node.profile.context_switch_s)
        self._start(pcb)
        return True

    def _start(self, pcb: PCB) -> None:
        assert pcb.context is not None
        pcb.state = "running"
        Thread(self.node, pcb.context)
        self.log("resume", pid=pcb.pid)

    # -- migration -----------------------------------------------------------------
    def _migrate_out(self, msg: Message) -> Generator[simpy.events.Event, Any, Any]:
        """Send the execution state to ``dest``; reply (bytes, time it resumed or was installed).

        With an ``attach``ment (the freeze-free bundle of the Memory Manager) the state
        travels with it as ONE one-way message, and the destination reports its resume
        time to ``notify`` instead: no request/reply crosses the network.
        """
        pid, dest, start, *extra = msg.body
        attach, notify = (extra[0], extra[1]) if extra else (None, None)
        pcb = yield from self._freeze(pid)
        if pcb is None:
            raise ProcessLookupError(f"process {pid} is not on node {self.node.node_id}")
        pcb.state = "migrating"
        yield self.node.kernel_work(self.node.profile.state_extract_s)
        size = self.node.profile.execution_state_bytes
        if attach is not None:
            bundle, bundle_bytes = attach
            size += bundle_bytes
            self.node.send(
                self.peer(dest),
                "install",
                (pcb, start, bundle, notify),
                size_bytes=size,
                traffic="state",
                account=pid,
            )
            self.log("migrate-out", pid=pid, dest=dest, bytes=size)
            return size, float("nan")  # the PCB stays here until the destination's ``departed``
        reply = yield self.node.call(
            self.peer(dest),
            "install",
            (pcb, start),
            size_bytes=size,
            traffic="state",
            account=pid,
        )
        installed_at = float(reply.body)
        del self.pcbs[pid]
        self.departed[pid] = dest
        self.log("migrate-out", pid=pid, dest=dest, bytes=size)
        return size, installed_at

    def _departed(self, msg: Message) -> None:
        pid, dest = msg.body
        if pid in self.pcbs and self.node.cluster.location_of.get(pid) != self.node.node_id:
            del self.pcbs[pid]
            self.departed[pid] = dest

    def _install(self, msg: Message) -> Generator[simpy.events.Event, Any, float]:
        pcb, start, *extra = msg.body
        bundle, notify = (extra[0], extra[1]) if extra else (None, None)
        source = pcb.node
        if bundle is not None:
            yield self.node.call(self.node.role_port("memory"), "adopt", (pcb.pid, bundle))
        yield self.node.kernel_work(self.node.profile.state_install_s)
        pcb.node = self.node.node_id
        pcb.migrations += 1
        pcb.state = "frozen"
        self.pcbs[pcb.pid] = pcb
        self.departed.pop(pcb.pid, None)
        self.node.cluster.commit_location(pcb.pid, self.node.node_id)
        self.log("install", pid=pcb.pid)
        if start:
            self._start(pcb)
        now = float(self.env.now)
        if notify is not None:
            self.node.send(notify, "resumed", now, account=pcb.pid)
            self.node.send(
                self.peer(source), "departed", (pcb.pid, self.node.node_id), account=pcb.pid
            )
        return now

    # -- home-node services --------------------------------------------------------
    def _home_call(self, msg: Message) -> Generator[simpy.events.Event, Any, Reply]:
        pid, kind, service_s = msg.body
        yield self.node.kernel_work(service_s)
        self.home_calls_served += 1
        self.log("home-call", pid=pid, kind=kind)
        return Reply(body=kind, size_bytes=msg.size_bytes, traffic=msg.traffic)

    def _status(self, msg: Message) -> ProcessSnapshot | int | None:
        """The snapshot, or the node the process left for, or ``None`` if never seen here."""
        pcb = self.pcbs.get(msg.body) or self.finished.get(msg.body)
        if pcb is not None:
            return pcb.snapshot()
        return self.departed.get(msg.body)
