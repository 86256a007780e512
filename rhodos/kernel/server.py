"""The shape every server has: a kernel port, a receive loop and a dispatch table.

As in MINIX 3's servers, a server is a loop that receives a request, looks its kind up
in a dispatch table and runs the handler; its state is private. Handlers are generator
functions (they may wait on simulated time, on calls to other servers) and return the
reply: a :class:`Reply`, or any value, which becomes the body of a small control reply.
Each request is served in its own simpy process, so a long transfer does not block a
page-fault request behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import simpy

from rhodos.kernel.message import Message

if TYPE_CHECKING:
    from rhodos.kernel.node import Node

__all__ = ["Handler", "Reply", "Server", "UnknownRequest"]

Handler = Callable[[Message], Any]


class UnknownRequest(RuntimeError):
    """A server received a request kind that its dispatch table does not hold."""


@attrs.frozen
class Reply:
    """What a handler answers: a body, its size on the wire and the traffic kind of its bytes."""

    body: Any = None
    size_bytes: int = 64
    traffic: str = "control"


class Server:
    """Base of the servers: subclasses set ``role`` and return their dispatch table."""

    role: ClassVar[str] = "server"

    def __init__(self, node: Node) -> None:
        self.node = node
        self.env: simpy.Environment = node.env
        self.port = node.create_port(self.role)
        self.dispatch: dict[str, Handler] = self.handlers()
        node.register_server(self.role, self.port.port_id, self)
        self.requests_served = 0
        self.env.process(self._loop())

    def handlers(self) -> dict[str, Handler]:
        """The dispatch table: request kind -> handler."""
        raise NotImplementedError

    def peer(self, node_id: int) -> int:
        """The port of the server with the same role on ``node_id``."""
        return self.node.cluster.role_port(node_id, self.role)

    def log(self, event: str, **fields: Any) -> None:
        """Record an event of this server in the cluster's event log."""
        self.node.cluster.log.record(self.node.node_id, self.role, event, **fields)

    def _loop(self) -> Generator[simpy.events.Event, Any, None]:
        while True:
            msg = yield self.port.get()
            handler = self.dispatch.get(msg.kind)
            if handler is None:
                raise UnknownRequest(
                    f"{self.role} server on node {self.node.node_id} has no handler for "
                    f"{msg.kind!r}; it handles {sorted(self.dispatch)}"
                )
            self.env.process(self._serve(handler, msg))

    def _serve(self, handler: Handler, msg: Message) -> Generator[simpy.events.Event, Any, None]:
        out = handler(msg)
        result = (yield from out) if isinstance(out, Generator) else out
        self.requests_served += 1
        if msg.reply_to is not None:
            reply = result if isinstance(result, Reply) else Reply(body=result)
            self.node.reply(msg, reply.body, size_bytes=reply.size_bytes, traffic=reply.traffic)
