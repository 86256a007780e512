"""The shape every server has: a kernel port, a receive loop and a dispatch table.

As in MINIX 3's servers, a server is a loop that receives a request, looks its type up
in a dispatch table (request type -> handler, as ``table.c`` maps call numbers) and
runs the handler; its state is private. A server's requests are frozen attrs classes
declared in its ``requests`` module. Handlers take the request; they are generator
functions when they wait (on simulated time, on calls to other servers), and return
the reply: a :class:`Reply`, or any value, which becomes the body of a small control
reply. Each request is served on its own, so a long transfer does not block a
page-fault request behind it: the kernel hands a message to the server's dispatch the
moment it is delivered, and a handler that waits is resumed by the events it waits on
(:func:`~rhodos.kernel.later.drive`), so a request costs no simpy process and a handler
that does not wait costs no event at all.

A handler that raises on a request that awaits a reply does not take the simulation
down: the server logs ``handler-error`` and answers with a :class:`~rhodos.kernel.Failure`
naming the request and the error, and the caller ends what it was doing with a clear
record. A one-way request has nobody to tell: its handler's error stops the run, loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any, ClassVar

import attrs
import simpy

from rhodos.kernel.later import drive
from rhodos.kernel.message import Failure, Message, Request, RequestFailed
from rhodos.kernel.node import Node

__all__ = ["Handler", "Reply", "Server", "UnknownRequest"]

#: A handler: takes its request (of the type it is listed under), returns the reply or a
#: generator of simpy events whose value is the reply.
Handler = Callable[[Any], Any]


class UnknownRequest(RuntimeError):
    """A server received a body whose type its dispatch table does not hold."""


@attrs.frozen
class Reply:
    """What a handler answers: a body, its size on the wire and the traffic kind of its bytes.

    ``on_delivery`` is called once the reply has reached the caller's node (the kernel's
    transport acknowledged it; at once when the request came without a message): what
    the reply carries is on the wire until then.
    """

    body: Any = None
    size_bytes: int = 64
    traffic: str = "control"
    on_delivery: Callable[[], None] | None = attrs.field(default=None, eq=False)


class Server:
    """Base of the servers: subclasses set ``role`` and return their dispatch table."""

    role: ClassVar[str] = "server"

    def __init__(self, node: Node) -> None:
        self.node = node
        self.env: simpy.Environment = node.env
        self.port = node.create_port(self.role, self._on_message)
        self.dispatch: dict[type[Request], Handler] = self.handlers()
        node.register_server(self.role, self.port.port_id, self)
        self.requests_served = 0

    def handlers(self) -> dict[type[Request], Handler]:
        """The dispatch table: request type -> handler."""
        raise NotImplementedError

    def statistics(self) -> Any:
        """A frozen snapshot of this server's counters (``None``: it keeps none)."""
        return None

    def peer(self, node_id: int) -> int:
        """The port of the server with the same role on ``node_id``."""
        return self.node.role_port(self.role, node_id)

    def log(self, event: str, **fields: Any) -> None:
        """Record an event of this server in the cluster's event log."""
        self.node.log(self.role, event, **fields)

    def serve(self, request: Request) -> simpy.Event:
        """Handle ``request`` without a message (:meth:`Node.submit`); the value is the reply."""
        return self.env.process(self._answer(self._handler(request), request))

    def _handler(self, body: Any, kind: str | None = None) -> Handler:
        handler = self.dispatch.get(type(body))
        if handler is None:
            handled = ", ".join(sorted(t.__name__ for t in self.dispatch))
            raise UnknownRequest(
                f"{self.role} server on node {self.node.node_id} has no handler for a "
                f"{type(body).__name__} (message kind {kind or getattr(body, 'kind', '?')!r}); "
                f"it handles {handled}"
            )
        return handler

    def _on_message(self, msg: Message) -> None:
        """A request delivered to the server's port: dispatch it now."""
        handler = self._handler(msg.body, msg.kind)
        try:
            out = handler(msg.body)
        except Exception as error:
            self._served(msg, False, error)
            return
        if isinstance(out, Generator):
            drive(out, partial(self._served, msg))
        else:
            self._served(msg, True, out)

    def _handle(self, handler: Handler, request: Any) -> Generator[simpy.events.Event, Any, Any]:
        out = handler(request)
        result = (yield from out) if isinstance(out, Generator) else out
        self.requests_served += 1
        return result

    def _answer(self, handler: Handler, request: Any) -> Generator[simpy.events.Event, Any, Any]:
        result = yield from self._handle(handler, request)
        if not isinstance(result, Reply):
            return result
        if result.on_delivery is not None:
            result.on_delivery()
        return result.body

    def _served(self, msg: Message, ok: bool, result: Any) -> None:
        """The handler of ``msg`` ended (``ok``: with ``result``; else with the error)."""
        if ok:
            self.requests_served += 1
        else:
            error = result
            self.log("handler-error", kind=msg.kind, error=f"{type(error).__name__}: {error}")
            if msg.reply_to is None:
                raise error  # a one-way request: nobody to tell
            crashed = error.failure.crashed if isinstance(error, RequestFailed) else None
            result = Failure(msg.kind, f"{type(error).__name__}: {error}", crashed)
        if msg.reply_to is not None:
            reply = result if isinstance(result, Reply) else Reply(body=result)
            sent = self.node.reply(
                msg, reply.body, size_bytes=reply.size_bytes, traffic=reply.traffic
            )
            if reply.on_delivery is not None:
                delivered = reply.on_delivery
                sent.callbacks.append(lambda _event: delivered())
