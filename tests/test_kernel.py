"""Specification of the kernel: message costs, drops, naming errors, config, random streams."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import simpy

from rhodos.kernel import (
    Cluster,
    ClusterConfig,
    ConfigError,
    Handler,
    ProfileError,
    Request,
    Server,
    UnknownRequest,
    load_profile,
)


def exactly(value: float) -> Any:
    """Compare simulated times to 1e-9 relative."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


@attrs.frozen
class Echo(Request):
    """Anyone -> echo server: reply ``text``."""

    text: str


@attrs.frozen
class Shout(Request):
    """A request the echo server does not handle."""

    text: str


class EchoServer(Server):
    """A server that answers every :class:`Echo` request with its text."""

    role = "echo"

    def handlers(self) -> dict[type[Request], Handler]:
        return {Echo: self._echo}

    def _echo(self, req: Echo) -> str:
        return req.text


def echo_cluster(nodes: int = 2, **config: Any) -> Cluster:
    """A cluster whose every node runs only the echo server, and no file server."""
    return Cluster(ClusterConfig(nodes=nodes, file_servers=0, **config), node_servers=(EchoServer,))


# -- message costs ----------------------------------------------------------------------


def test_local_call_costs_two_local_messages(run_process: Any) -> None:
    """A request/reply between two ports of an idle node costs exactly 2 * local_ipc_s."""
    cluster = echo_cluster(nodes=1)
    node = cluster.node(0)

    def client() -> Generator[simpy.events.Event, Any, Any]:
        reply = yield node.call(node.role_port("echo"), Echo("hello"))
        return reply.body

    assert run_process(cluster, client) == "hello"
    assert cluster.now == exactly(2 * cluster.profile.local_ipc_s)
    assert cluster.node(0).cpu.statistics().kernel_requests == 2


def test_remote_call_costs_overheads_latency_and_wire_time(run_process: Any) -> None:
    """A remote request/reply pays, each way, two message overheads, latency and wire time."""
    cluster = echo_cluster(nodes=2)
    profile = cluster.profile
    request_bytes, reply_bytes = 3000, 64  # the echo answers with a small control reply

    def client() -> Generator[simpy.events.Event, Any, Any]:
        reply = yield cluster.node(0).call(
            cluster.role_port(1, "echo"), Echo("over there"), size_bytes=request_bytes
        )
        return reply.body

    assert run_process(cluster, client) == "over there"
    one_way = 2 * profile.message_cpu_overhead_s + profile.network_latency_s
    wire = profile.wire_bytes(request_bytes) + profile.wire_bytes(reply_bytes)
    assert cluster.now == exactly(2 * one_way + wire / profile.bandwidth_bytes_per_s)
    assert cluster.network.statistics().messages_by_kind == {"control": 2}


def test_message_to_a_down_node_is_dropped_and_logged() -> None:
    """A message that reaches a node that is down is dropped there and logged as ``drop``."""
    cluster = echo_cluster(nodes=2)
    profile = cluster.profile
    cluster.set_node_up(1, False)
    cluster.node(0).send(cluster.role_port(1, "echo"), Echo("lost"))
    cluster.run()
    drops = cluster.log.select("drop")
    assert [(e.node, dict(e.fields)["kind"]) for e in drops] == [(1, "echo")]
    arrival = (
        profile.message_cpu_overhead_s
        + profile.network_latency_s
        + profile.wire_bytes(64) / profile.bandwidth_bytes_per_s
    )
    assert drops[0].time == exactly(arrival)
    assert cluster.node(1).debug_server("echo").requests_served == 0


def test_message_from_a_down_node_is_dropped_at_once() -> None:
    """A down node sends nothing: its message is dropped at the source, at the same instant."""
    cluster = echo_cluster(nodes=2)
    cluster.set_node_up(0, False)
    cluster.node(0).send(cluster.role_port(1, "echo"), Echo("lost"))
    cluster.run()
    assert [(e.time, e.node) for e in cluster.log.select("drop")] == [(0.0, 0)]
    assert cluster.network.statistics().messages_by_kind == {}


def test_message_to_a_closed_port_is_dropped() -> None:
    """A port closed while a message is on its way makes the message a logged drop."""
    cluster = echo_cluster(nodes=1)
    port = cluster.node(0).create_port("test")
    cluster.node(0).send(port.port_id, Echo("anything"))
    cluster.close_port(port.port_id)
    cluster.run()
    assert len(cluster.log.select("drop")) == 1
    assert len(port.mailbox.items) == 0


def test_a_request_kind_is_its_class_name_in_snake_case() -> None:
    """The kind a request is logged and traced under comes from its type."""

    @attrs.frozen
    class SendPages(Request):
        pid: int

    assert (Echo.kind, SendPages.kind, Echo("x").kind) == ("echo", "send_pages", "echo")


def test_a_request_of_a_type_the_server_does_not_handle_fails_loudly() -> None:
    """A body whose type is not in the dispatch table stops the run, naming the request."""
    cluster = echo_cluster(nodes=1)
    cluster.node(0).send(cluster.role_port(0, "echo"), Shout("hello"))
    with pytest.raises(UnknownRequest, match=r"no handler for a Shout .*it handles Echo"):
        cluster.run()


def test_an_outside_request_is_served_at_no_simulated_cost() -> None:
    """A request submitted from outside the simulated machines costs no time or CPU."""
    cluster = echo_cluster(nodes=1)
    done = cluster.node(0).submit("echo", Echo("console"))
    cluster.run()
    assert (done.value, cluster.now) == ("console", 0.0)
    assert cluster.node(0).cpu.statistics().kernel_requests == 0


# -- naming errors ----------------------------------------------------------------------


def test_unknown_node_error_names_the_valid_ids() -> None:
    """Asking for a node that does not exist names the ids that do (file servers included)."""
    cluster = Cluster(ClusterConfig(nodes=2, file_servers=1))
    with pytest.raises(ConfigError, match=r"no node 99: nodes are 0\.\.2"):
        cluster.node(99)


def test_missing_role_error_names_the_roles_that_exist() -> None:
    """Asking a node for a server it does not run names the roles it runs."""
    cluster = echo_cluster(nodes=1)
    with pytest.raises(ConfigError, match=r"runs no 'memory' server; it runs \['echo'\]"):
        cluster.node(0).role_port("memory")


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"nodes": 0}, "nodes"),
        ({"nodes": 2.5}, "nodes"),
        ({"topology": "ring"}, "topology"),
        ({"nodes": 2, "architectures": ("m68k",)}, "architectures"),
        ({"file_servers": -1}, "file_servers"),
        ({"seed": -1}, "seed"),
    ],
)
def test_cluster_config_errors_name_the_field(fields: dict[str, Any], named: str) -> None:
    """A bad ClusterConfig value raises a ConfigError whose message starts with the field."""
    with pytest.raises(ConfigError, match=rf"^{named} must"):
        ClusterConfig(**fields)


def test_architectures_give_each_node_its_tag() -> None:
    """One architecture tag per node is applied in order; file servers keep the profile's."""
    cluster = Cluster(ClusterConfig(nodes=2, architectures=["m68k", "sparc"]))
    assert [n.architecture for n in cluster.all_nodes] == ["m68k", "sparc", "m68k"]


def test_topology_defaults_to_the_profiles_and_can_be_overridden() -> None:
    """``topology=None`` takes the profile's topology; a given topology wins."""
    assert Cluster(ClusterConfig()).network.topology == "shared"
    assert Cluster(ClusterConfig(topology="star")).network.topology == "star"


def test_profile_by_builtin_name() -> None:
    """A built-in profile name in the config becomes that profile."""
    config = ClusterConfig(profile="modern-10gbe")
    assert config.profile == load_profile("modern-10gbe")


def test_profile_by_toml_path(tmp_path: Path) -> None:
    """A TOML path in the config loads that profile, and the cluster charges its costs."""
    custom = attrs.evolve(load_profile("sun3-ethernet"), name="my-lab", network_bandwidth_bps=1e8)
    path = tmp_path / "my-lab.toml"
    custom.save(path)
    config = ClusterConfig(profile=str(path))
    assert config.profile == custom
    assert Cluster(config).network.bandwidth_bytes_per_s == 1e8 / 8


def test_unknown_profile_name_is_refused() -> None:
    """A profile that is neither a built-in name nor a file is refused with the built-ins."""
    with pytest.raises(ProfileError, match="sun3-ethernet"):
        ClusterConfig(profile="sun4-ethernet")


# -- random streams ---------------------------------------------------------------------


def draws(seed: int, name: str, *ids: int, before: str | None = None) -> np.ndarray:
    """Five draws from a fresh cluster's stream; ``before`` creates another stream first."""
    cluster = Cluster(ClusterConfig(nodes=1, seed=seed))
    if before is not None:
        cluster.rng(before).random(3)
    return cluster.rng(name, *ids).random(5)


def test_rng_streams_depend_only_on_seed_name_and_ids() -> None:
    """Same seed, name and ids give the same stream, whatever streams were made before."""
    assert np.array_equal(draws(7, "program", 3), draws(7, "program", 3))
    assert np.array_equal(draws(7, "program", 3), draws(7, "program", 3, before="other"))


@pytest.mark.parametrize(
    "other",
    [(7, "program", 4), (7, "program", 3, 0), (7, "think", 3), (8, "program", 3)],
    ids=["other-id", "more-ids", "other-name", "other-seed"],
)
def test_rng_streams_differ_when_anything_differs(other: tuple[Any, ...]) -> None:
    """Changing the seed, the name or the ids gives a different stream."""
    assert not np.array_equal(draws(7, "program", 3), draws(*other))
