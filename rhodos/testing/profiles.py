"""Legal extreme machine profiles: the timings that widen every race window.

The built-in profiles describe real machines, whose control messages are a fraction of
a millisecond slower than a page; that slack hides races that a legal profile exposes.
The timing edges a migration mechanism must survive are built here from a base profile
(``sparc-ethernet`` unless told otherwise), each with legal values only:

* ``zero-cpu`` -- every CPU cost 0 (messages, packets, local IPC, traps, context
  switches, state extraction and installation); latencies kept.
* ``zero-cost`` -- every CPU cost and every latency 0 (network and file server):
  many things happen at the same simulated instant, in event order only.
* ``slow-latency`` -- a very long network latency (1 s unless told), far longer than
  any computation: every control message is slower than the work around it.

:func:`fuzz_profile` reads a built-in name, an extreme name, ``extreme:base`` (an
extreme built on another built-in profile) or ``slow-latency@0.5`` (the latency in
seconds).
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.kernel import MachineProfile, ProfileError, builtin_profiles, load_profile

__all__ = [
    "CPU_COSTS",
    "EXTREMES",
    "LATENCIES",
    "fuzz_profile",
    "slow_latency",
    "zero_cost",
    "zero_cpu",
]

#: The profile fields that are CPU time.
CPU_COSTS = (
    "message_cpu_overhead_s",
    "packet_cpu_overhead_s",
    "local_ipc_s",
    "page_fault_trap_s",
    "context_switch_s",
    "state_extract_s",
    "state_install_s",
)

#: The profile fields that are latencies.
LATENCIES = ("network_latency_s", "file_server_latency_s")

#: The names of the extreme profiles.
EXTREMES = ("zero-cpu", "zero-cost", "slow-latency")


def _zeros(fields: tuple[str, ...]) -> dict[str, Any]:
    return dict.fromkeys(fields, 0.0)


def _base(base: MachineProfile | str) -> MachineProfile:
    return base if isinstance(base, MachineProfile) else load_profile(base)


def zero_cpu(base: MachineProfile | str = "sparc-ethernet") -> MachineProfile:
    """``base`` with every CPU cost 0 (latencies kept)."""
    profile = _base(base)
    return attrs.evolve(
        profile,
        name="zero-cpu",
        description=f"{profile.name} with every CPU cost 0 (latencies kept)",
        **_zeros(CPU_COSTS),
    )


def zero_cost(base: MachineProfile | str = "sparc-ethernet") -> MachineProfile:
    """``base`` with every CPU cost and every latency 0."""
    profile = _base(base)
    return attrs.evolve(
        profile,
        name="zero-cost",
        description=f"{profile.name} with every CPU cost and every latency 0",
        **_zeros(CPU_COSTS + LATENCIES),
    )


def slow_latency(
    latency_s: float = 1.0, base: MachineProfile | str = "sparc-ethernet"
) -> MachineProfile:
    """``base`` with a network latency of ``latency_s`` seconds."""
    profile = _base(base)
    return attrs.evolve(
        profile,
        name="slow-latency",
        description=f"{profile.name} with a network latency of {latency_s} s",
        network_latency_s=latency_s,
    )


def fuzz_profile(spec: str) -> MachineProfile:
    """The profile named by ``spec``: a built-in name, an extreme name (see :data:`EXTREMES`),
    ``extreme:base`` or ``slow-latency@seconds`` (``slow-latency@0.5:sun3-ethernet``).

    Raises:
        ProfileError: the spec names no profile (the message lists what is allowed).
    """
    if spec in builtin_profiles():
        return load_profile(spec)
    head, _, base = spec.partition(":")
    name, _, latency = head.partition("@")
    base = base or "sparc-ethernet"
    if name not in EXTREMES or base not in builtin_profiles():
        allowed = ", ".join([*sorted(builtin_profiles()), *EXTREMES])
        raise ProfileError(
            f"unknown fuzz profile {spec!r}: use one of {allowed}, optionally as "
            "extreme:base (e.g. zero-cpu:sun3-ethernet) or slow-latency@seconds"
        )
    if name == "slow-latency":
        try:
            seconds = float(latency) if latency else 1.0
        except ValueError:
            raise ProfileError(f"slow-latency@{latency}: the latency must be a number") from None
        return slow_latency(seconds, base)
    if latency:
        raise ProfileError(f"{spec!r}: only slow-latency takes @seconds")
    return zero_cpu(base) if name == "zero-cpu" else zero_cost(base)
