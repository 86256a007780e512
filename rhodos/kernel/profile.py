"""Machine profiles: every cost the simulation charges, with where it came from.

A :class:`MachineProfile` describes the hardware of one simulated cluster: page size,
memory per node, network bandwidth and latency, protocol overhead per packet and per
message, the CPU cost of traps, context switches and of extracting and installing a
process's state, the speed of the file server, and how many instructions per second the CPU
executes (what a replayed page trace needs). The kernel charges simulated time
only through these numbers, so the same workload run under two profiles compares two
machines, and a published measurement can be reproduced by describing the machine the
paper used.

A profile is **derived from a paper's hardware**: next to each value, the ``sources``
table says where it came from (a paper, a datasheet, ``"derived: ..."`` when computed
from published figures, ``"calibrated: ..."`` when fitted to a measurement, or
``"assumed: ..."`` when nothing could be found). All values are in SI units: bytes,
bits per second, seconds.

Profiles are frozen `attrs` values, validated at construction: a bad value raises
:class:`ProfileError` naming the field, the value and what is allowed. Vary one with
``attrs.evolve(profile, network_bandwidth_bps=100e6)``. Profiles are stored as flat
TOML files (one key per field plus a ``[sources]`` table, see
:mod:`rhodos.kernel.profile_toml`); the built-in ones live in ``rhodos/kernel/profiles/``
and are listed by :func:`builtin_profiles`::

    profile = load_profile("sun3-ethernet")
    profile.wire_bytes(8192)        # one 8 KiB page as it appears on the wire
    profile.save("my-machine.toml")  # edit, then load_profile("my-machine.toml")
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

import rhodos.kernel.profile_toml as profile_toml
from rhodos.kernel.profile_fields import (
    CACHE,
    HEADER,
    INSTRUCTIONS,
    MISSES,
    NAME,
    PAYLOAD,
    RATE,
    SPEED,
    TEXT,
    TIME,
    WAIT,
    ProfileError,
    choice,
    copy_sources,
    count,
    field,
    number,
    power_of_two,
    source_map,
    state_size,
    whole_pages,
)
from rhodos.validators import did_you_mean

__all__ = [
    "FIELD_DOCS",
    "FIELD_UNITS",
    "MachineProfile",
    "ProfileError",
    "builtin_profiles",
    "load_profile",
]

_TOPOLOGIES = ("shared", "star")  # one shared segment (classic Ethernet) or a switched star


# ---------------------------------------------------------------------------------------
# The profile.
# ---------------------------------------------------------------------------------------


@attrs.frozen
class MachineProfile:
    """The hardware of a simulated cluster: every cost the simulation charges, in SI units.

    Create one with :meth:`from_toml`, :func:`load_profile` or :meth:`from_dict`; vary
    one with ``attrs.evolve``. Every field is validated at construction and documented
    in its metadata (see :data:`FIELD_UNITS` and :data:`FIELD_DOCS`).
    """

    name: str = attrs.field(
        **field("", NAME, "Short identifier of the profile, e.g. 'sun3-ethernet'.")
    )
    description: str = attrs.field(
        **field("", TEXT, "Which machines and network this profile describes.")
    )
    architecture: str = attrs.field(
        **field("", NAME, "Architecture tag of the nodes, e.g. 'm68k', 'x86_64'.")
    )
    page_size_bytes: int = attrs.field(
        **field("bytes", power_of_two, "Size of one page, the unit of paging and transfer.")
    )
    memory_bytes: int = attrs.field(
        **field("bytes", whole_pages, "Physical memory of each node, in whole pages.")
    )
    cpu_speed: float = attrs.field(
        **number("", SPEED, "Relative CPU speed: t CPU-seconds take t / cpu_speed.")
    )
    instructions_per_s: float = attrs.field(
        **number(
            "instructions/s",
            INSTRUCTIONS,
            "Instructions the CPU executes per second of CPU time at cpu_speed 1 (a MIPS "
            "rating x 1e6): a replayed page trace's window of n instructions computes "
            "n / instructions_per_s CPU-seconds.",
        )
    )
    network_bandwidth_bps: float = attrs.field(
        **number("bit/s", RATE, "Capacity of the shared segment or of each link.")
    )
    network_latency_s: float = attrs.field(
        **number("s", TIME, "One-way latency of a message, on top of transmission.")
    )
    topology: str = attrs.field(
        **field("", choice(_TOPOLOGIES), "'shared' (one segment for all) or 'star' (switched).")
    )
    packet_payload_bytes: int = attrs.field(
        **count("bytes", PAYLOAD, "Largest payload carried by one packet.")
    )
    packet_header_bytes: int = attrs.field(
        **count("bytes", HEADER, "Bytes each packet adds on the wire (all layers).")
    )
    message_cpu_overhead_s: float = attrs.field(
        **number("s", TIME, "Kernel CPU time per network message, at each end.")
    )
    packet_cpu_overhead_s: float = attrs.field(
        **number(
            "s",
            TIME,
            "Kernel CPU cost per packet of a network message, at each end "
            "(interrupt, copy, protocol processing), on top of the per-message cost.",
        )
    )
    local_ipc_s: float = attrs.field(
        **number("s", TIME, "Cost of one message between two ports of one node.")
    )
    page_fault_trap_s: float = attrs.field(
        **number("s", TIME, "Cost of trapping a page fault into the memory manager.")
    )
    context_switch_s: float = attrs.field(
        **number("s", TIME, "Cost of switching the CPU between two processes.")
    )
    execution_state_bytes: int = attrs.field(
        **field("bytes", state_size, "PCB + registers + kernel stack moved by a migration.")
    )
    state_extract_s: float = attrs.field(
        **number("s", TIME, "CPU time to extract process state at the source.")
    )
    state_install_s: float = attrs.field(
        **number("s", TIME, "CPU time to install process state at the destination.")
    )
    file_server_bandwidth_bps: float = attrs.field(
        **number("bit/s", RATE, "Disk bandwidth of the file server.")
    )
    file_server_latency_s: float = attrs.field(
        **number("s", TIME, "Disk access time of the file server, per request.")
    )
    # -- the file server's memory cache (Sprite's servers kept one in front of the disk)
    file_server_cache_bytes: int = attrs.field(
        **count(
            "bytes",
            CACHE,
            "Memory cache in front of the file server's disk (0: none): pages and file "
            "blocks written to the server, or read from its disk, stay in it, least "
            "recently used out; a write goes to the cache and to the disk behind it.",
        )
    )
    file_server_cache_bandwidth_bps: float = attrs.field(
        **number(
            "bit/s",
            RATE,
            "Rate at which the file server serves cached pages and blocks and takes written "
            "ones in: a hit costs its bytes at this rate, and no disk access.",
        )
    )
    # -- failure detection (rhodos.kernel.failure): used once crashes are expected. A
    # profile that leaves them out gets the values derived from its costs below.
    request_timeout_s: float = attrs.field(
        default=attrs.Factory(lambda p: p.derived_request_timeout_s(), takes_self=True),
        **number(
            "s",
            WAIT,
            "How long a request waits for its reply before the caller asks whether the node "
            "it went to is alive (then twice as long each time it is).",
        ),
    )
    transport_timeout_s: float = attrs.field(
        default=attrs.Factory(lambda p: 8 * p.idle_one_way_s(), takes_self=True),
        **number(
            "s",
            WAIT,
            "How long the transport retries a message to a node that does not answer "
            "before it reports the message undeliverable to its sender.",
        ),
    )
    heartbeat_interval_s: float = attrs.field(
        default=1.0,
        **number("s", WAIT, "How often every node tells the recovery manager that it lives."),
    )
    heartbeat_misses: int = attrs.field(
        default=3,
        **count(
            "",
            MISSES,
            "Heartbeats missed in a row before the recovery manager probes the node and, "
            "when it does not answer, declares it crashed.",
        ),
    )
    sources: dict[str, str] = attrs.field(
        factory=dict,
        converter=copy_sources,
        validator=source_map,
        hash=False,
        metadata={"unit": "", "doc": "Field name -> where its value came from."},
    )

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str = "<dict>") -> MachineProfile:
        """Build a profile from a flat mapping of field values plus an optional ``sources``.

        Args:
            data: one key per field (``sources`` may be left out); ints are accepted
                for float fields.
            origin: where the data came from (a file path), quoted in every error.

        Returns:
            The validated profile.

        Raises:
            ProfileError: a key is unknown (the nearest field is suggested), a field is
                missing, or a value has the wrong type or is out of range.
        """
        if not isinstance(data, Mapping):
            raise ProfileError(
                f"{origin}: a profile must be a table of fields, got {type(data).__name__}"
            )
        names = [attribute.name for attribute in attrs.fields(cls)]
        problems = [
            f"unknown field {key!r}{did_you_mean(str(key), names)}"
            for key in data
            if key not in names
        ]
        missing = [name for name in FIELD_UNITS if name not in data and name not in _DERIVED]
        if missing:
            problems.append(f"missing field(s): {', '.join(missing)}")
        if problems:
            raise ProfileError(f"{origin}: " + "; ".join(problems))
        try:
            return cls(**{str(key): value for key, value in data.items()})
        except ProfileError as error:
            raise ProfileError(f"{origin}: {error}") from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> MachineProfile:
        """Read a profile from a TOML file written by :meth:`save` or by hand.

        A file may start from another profile: ``base = "sparc-ethernet"`` (a built-in
        name, or a profile file's path relative to this one) takes every field the file
        does not give from that profile; the file must then give a ``name`` of its own.
        A file without a base may not take a built-in profile's name unless it is that
        profile, so that a modified copy is never shown under the original's name.

        Raises:
            ProfileError: the file cannot be read (missing, a folder, not UTF-8), is not
                valid TOML or not a valid profile; the message starts with the file's path.
        """
        origin = str(path)
        data = profile_toml.read_file(path, ProfileError)
        if "base" in data:
            here = Path(path).resolve()
            if here in _BASES_READING:  # a.toml's base is b.toml, whose base is a.toml
                raise ProfileError(f"{origin}: its base profiles lead back to it")
            _BASES_READING.add(here)
            try:
                data = _inherit(data, Path(path).parent, origin)
            finally:
                _BASES_READING.discard(here)
        profile = cls.from_dict(data, origin=origin)
        builtin = builtin_profiles().get(profile.name)
        if builtin is not None and builtin != profile:
            changed = [f for f in FIELD_UNITS if getattr(builtin, f) != getattr(profile, f)]
            raise ProfileError(
                f"{origin}: name {profile.name!r} is a built-in profile's, but "
                f"{', '.join(changed) or 'its sources'} differ: give the profile a name of "
                f'its own, and write only what changes after base = "{profile.name}"'
            )
        return profile

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain value (``sources`` copied); the inverse of :meth:`from_dict`."""
        data = attrs.asdict(self, recurse=False)
        data["sources"] = dict(self.sources)
        return data

    def to_toml(self, base: str | None = None) -> str:
        """The profile as TOML text that :meth:`from_toml` reads back to an equal profile.

        One ``key = value`` line per field, each preceded by a comment with its unit and
        meaning, then the ``[sources]`` table in field order. Floats are written with
        ``repr`` so they round-trip exactly. With ``base`` (a built-in profile's name),
        the file says ``base = "..."`` and lists only the name, the description and the
        fields (and sources) that differ from that profile.
        """
        names = list(FIELD_UNITS)
        if base is not None:
            start = load_profile(base)
            names = [
                n
                for n in names
                if n in ("name", "description")
                or getattr(self, n) != getattr(start, n)
                or self.sources.get(n) != start.sources.get(n)
            ]
        fields = [(n, FIELD_UNITS[n], FIELD_DOCS[n], getattr(self, n)) for n in names]
        sources = {n: self.sources[n] for n in names if n in self.sources}
        return profile_toml.write(self.name, fields, sources, base=base)

    def save(self, path: str | os.PathLike[str], base: str | None = None) -> None:
        """Write :meth:`to_toml` (with ``base``) to ``path`` (UTF-8), replacing any file."""
        Path(path).write_text(self.to_toml(base), encoding="utf-8")

    # -- derived quantities -----------------------------------------------------------

    def packets(self, payload_bytes: int) -> int:
        """Packets a message of ``payload_bytes`` is cut into (at least one)."""
        if payload_bytes < 0:
            raise ValueError(f"payload_bytes must be >= 0, got {payload_bytes!r}")
        return max(1, -(-payload_bytes // self.packet_payload_bytes))

    def message_cpu_s(self, payload_bytes: int) -> float:
        """Kernel CPU time a network message costs at each end: per message plus per packet."""
        per_packet = self.packets(payload_bytes) * self.packet_cpu_overhead_s
        return self.message_cpu_overhead_s + per_packet

    def wire_bytes(self, payload_bytes: int) -> int:
        """Bytes a message of ``payload_bytes`` occupies on the wire.

        The payload is cut into ``ceil(payload / packet_payload_bytes)`` packets (at least
        one, even for an empty message) and each packet adds ``packet_header_bytes``.

        Raises:
            ValueError: ``payload_bytes`` is negative.
        """
        return payload_bytes + self.packets(payload_bytes) * self.packet_header_bytes

    def idle_one_way_s(self) -> float:
        """One small (64-byte) message's one-way time on an idle network: latency,
        transmission and the kernel's CPU at both ends."""
        return (
            self.network_latency_s
            + self.wire_bytes(64) / self.bandwidth_bytes_per_s
            + 2 * self.message_cpu_s(64)
        )

    def derived_request_timeout_s(self) -> float:
        """The request timeout of a profile that does not give one: 20 idle round trips of
        a small message plus one disk access (what a file-server request costs), at least
        50 ms."""
        return max(0.05, 20 * 2 * self.idle_one_way_s() + self.file_server_latency_s)

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Network bandwidth in bytes per second."""
        return self.network_bandwidth_bps / 8

    @property
    def file_server_bytes_per_s(self) -> float:
        """File-server disk bandwidth in bytes per second."""
        return self.file_server_bandwidth_bps / 8

    @property
    def file_server_cache_bytes_per_s(self) -> float:
        """File-server cache bandwidth in bytes per second."""
        return self.file_server_cache_bandwidth_bps / 8


FIELD_UNITS: dict[str, str] = {
    attribute.name: attribute.metadata["unit"]
    for attribute in attrs.fields(MachineProfile)
    if attribute.name != "sources"
}
"""Field name -> unit ("bytes", "bit/s", "s", or "" when dimensionless), for every value
field (all fields but ``sources``), in definition order."""

FIELD_DOCS: dict[str, str] = {
    attribute.name: attribute.metadata["doc"]
    for attribute in attrs.fields(MachineProfile)
    if attribute.name != "sources"
}
"""Field name -> one-sentence description, for the same fields as :data:`FIELD_UNITS`."""

#: The fields a profile may leave out: their defaults are derived from its other fields.
_DERIVED = frozenset(
    attribute.name
    for attribute in attrs.fields(MachineProfile)
    if attribute.default is not attrs.NOTHING and attribute.name != "sources"
)


# ---------------------------------------------------------------------------------------
# Built-in profiles.
# ---------------------------------------------------------------------------------------


@functools.cache
def _load_builtins() -> tuple[MachineProfile, ...]:
    profiles = []
    for origin, data in profile_toml.read_builtins(ProfileError):
        profile = MachineProfile.from_dict(data, origin=origin)
        if f"{profile.name}.toml" != Path(origin).name:
            raise ProfileError(f"{origin}: name {profile.name!r} does not match the file name")
        profiles.append(profile)
    return tuple(profiles)


#: The profile files whose bases are being read (a chain that loops is refused).
_BASES_READING: set[Path] = set()


def _inherit(data: dict[str, Any], folder: Path, origin: str) -> dict[str, Any]:
    """The fields of a file that starts from ``base``: the base's, then the file's own."""
    data = dict(data)
    base = data.pop("base")
    if not isinstance(base, str):
        raise ProfileError(f"{origin}: base must be a profile's name or file, got {base!r}")
    relative = folder / base
    start = load_profile(str(relative) if relative.is_file() else base)
    if data.get("name", start.name) == start.name:
        raise ProfileError(
            f"{origin}: a profile based on {start.name!r} needs a name of its own "
            f'(name = "my-{start.name}")'
        )
    own = data.get("sources", {})
    if not isinstance(own, dict):
        raise ProfileError(f"{origin}: [sources] must be a table of field name -> string")
    # A value the file changes keeps no source from the base: it has its own, or none.
    sources = {k: v for k, v in start.sources.items() if k not in data}
    return {**start.to_dict(), **data, "sources": {**sources, **own}}


def builtin_profiles() -> dict[str, MachineProfile]:
    """The profiles shipped in ``rhodos/kernel/profiles/``, by name (read once, cached)."""
    return {profile.name: profile for profile in _load_builtins()}


def load_profile(name_or_path: str | os.PathLike[str]) -> MachineProfile:
    """A built-in profile by name, or a profile read from a TOML file.

    A string is first looked up among the built-in names, then taken as a path.

    Raises:
        ProfileError: neither a built-in name nor an existing path (the message lists
            the built-in names), a path that is not a readable file, or a file that is
            not a valid profile.
    """
    builtins = builtin_profiles()
    if isinstance(name_or_path, str) and name_or_path in builtins:
        return builtins[name_or_path]
    path = Path(name_or_path)
    if path.is_dir():
        raise ProfileError(f"{path} is a folder: a profile is a built-in name or a TOML file")
    if path.exists():
        return MachineProfile.from_toml(path)  # a device is named as such
    hint = did_you_mean(str(name_or_path), list(builtins))
    raise ProfileError(
        f"unknown profile {str(name_or_path)!r}{hint}: not a built-in profile "
        f"({', '.join(sorted(builtins))}) and no such file"
    )
