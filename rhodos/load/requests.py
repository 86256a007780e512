"""The requests the Load Manager handles, and its replies that carry several values.

Each says who sends it and what it replies. Sizes on the wire are set by the sender
(:data:`SIZES`): a load report is a few words, an exec request carries the program's
name, arguments and environment, a trader's answer grows with the nodes it names.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import Layout, Request

__all__ = [
    "SIZES",
    "Configure",
    "Exec",
    "Export",
    "Handover",
    "Import",
    "LeastLoaded",
    "LoadReport",
    "Offer",
    "Placed",
    "Probe",
    "Pull",
    "RemoteExec",
    "Resident",
    "Where",
]

#: Payload bytes of the Load Manager's messages (the kernel adds packet headers).
SIZES = {
    # node id, load, the instant it was measured
    "report": 16,
    "probe": 8,
    "probe_reply": 16,
    # program name, arguments and environment of an exec (Sprite ships them to the
    # remote host with the exec request)
    "exec": 1024,
    "exec_reply": 16,
    # node, architecture tag, free frames, load, idle flag, when
    "offer": 48,
    # architecture tag, pages needed, idle only
    "import": 32,
    # a header, then 4 bytes per node named
    "list_header": 16,
    "pull": 16,
    "handover": 32,
}


def node_list_bytes(count: int) -> int:
    """The size of a message naming ``count`` nodes."""
    return SIZES["list_header"] + 4 * count


@attrs.frozen(eq=False)
class Configure(Request):
    """System -> Load Manager: run these policies from now on, in a cluster of ``nodes``
    compute nodes (reply ``None``).

    ``settings`` is a :class:`~rhodos.load.settings.Settings`; ``rng`` is the node's own
    random stream, spawned from the cluster's seed.
    """

    settings: Any
    nodes: int
    rng: np.random.Generator


@attrs.frozen(eq=False)
class Exec(Request):
    """A user on this node -> its Load Manager: start process ``pid`` running ``program``
    (a generator of actions) in an address space of ``layout``, built for
    ``architecture``; reply :class:`Placed` once it exists (or why it could not)."""

    pid: int
    name: str
    program: Any
    layout: Layout
    architecture: str


@attrs.frozen(eq=False)
class RemoteExec(Request):
    """Load Manager -> the Load Manager of the node it chose: run this exec there (remote
    execution: the process is born on that node); reply the node id, or why not."""

    job: Exec
    origin: int


@attrs.frozen
class Placed:
    """The reply to :class:`Exec`: the node the process was started on (``None``: nowhere,
    ``refused`` says why)."""

    pid: int
    node: int | None
    refused: str | None = None


@attrs.frozen
class LoadReport(Request):
    """Load Manager -> Load Manager (or the central load server): node ``node`` had
    ``load`` processes at ``at`` (one-way)."""

    node: int
    load: int
    at: float


@attrs.frozen
class Probe(Request):
    """Load Manager -> Load Manager: reply your :class:`LoadReport` now."""


@attrs.frozen(eq=False)
class LeastLoaded(Request):
    """Load Manager -> a load server: which of ``candidates`` has the least load as you know
    it? Reply that node's last :class:`LoadReport` (``None``: none is known)."""

    candidates: npt.NDArray[np.int32]


@attrs.frozen
class Offer:
    """What a node offers to the trader: its resources as they were at ``at``."""

    node: int
    architecture: str
    free_frames: int
    load: int
    idle: bool
    at: float


@attrs.frozen
class Export(Request):
    """Load Manager -> trader: here is my current :class:`Offer` (one-way)."""

    offer: Offer


@attrs.frozen
class Import(Request):
    """Load Manager -> trader: reply the nodes whose offers match a process built for
    ``architecture`` needing ``pages`` free frames (``idle``: only idle nodes), as an
    array of node ids. With ``lend``, one idle node at most, which the trader then holds
    as taken until that node offers itself again (an idle host is lent to one requester
    at a time)."""

    architecture: str
    pages: int
    idle: bool = False
    #: One idle node at most, then held as taken (idle workstations).
    lend: bool = False
    #: The node asking, never named in the answer.
    exclude: int = -1


@attrs.frozen
class Resident:
    """What a Load Manager knows of a process on its node: when it was born, how big it is,
    and the node whose user started it (``None``: not known; idle workstations evict a
    guest back there)."""

    pid: int
    born_at: float
    pages: int
    origin: int | None = None


@attrs.frozen
class Pull(Request):
    """Receiver's Load Manager -> sender's Load Manager: send me a process, I had ``load``
    at ``at`` (receiver-initiated transfer; one-way)."""

    receiver: int
    load: int
    at: float


@attrs.frozen
class Handover(Request):
    """Source Load Manager -> destination Load Manager: ``resident`` is migrating to you;
    keep it in your table once it lives there (one-way)."""

    resident: Resident


@attrs.frozen
class Where(Request):
    """Recovery manager -> Load Manager: a process built for ``architecture``, ``pages``
    pages big, must start again (its node crashed): where? Reply the node the location
    policy chooses among the trader's candidates, or this one."""

    architecture: str
    pages: int
