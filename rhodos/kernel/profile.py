"""Machine profiles: every cost the simulation charges, with where it came from.

A :class:`MachineProfile` describes the hardware of one simulated cluster: page size,
memory per node, network bandwidth and latency, protocol overhead per packet and per
message, the CPU cost of traps, context switches and of extracting and installing a
process's state, and the speed of the file server. The kernel charges simulated time
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
TOML files (one key per field plus a ``[sources]`` table); the built-in ones live in
``rhodos/kernel/profiles/`` and are listed by :func:`builtin_profiles`::

    profile = load_profile("sun3-ethernet")
    profile.wire_bytes(8192)        # one 8 KiB page as it appears on the wire
    profile.save("my-machine.toml")  # edit, then load_profile("my-machine.toml")
"""

from __future__ import annotations

import functools
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

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

_MIN_PAGE_SIZE = 256

_UNIT_WORDS = {
    "bytes": "bytes",
    "bit/s": "bits per second",
    "s": "seconds",
    "": "dimensionless",
}


class ProfileError(ValueError):
    """A machine profile's input is invalid: the message names the field and what is allowed."""


# ---------------------------------------------------------------------------------------
# Validators and converters. Each raises ProfileError with the field's name and unit.
# ---------------------------------------------------------------------------------------

_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _int_to_float(value: Any) -> Any:
    """Accept an int where a float is expected (TOML writes ``10`` for ``10.0``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _quantity(kind: type[int] | type[float], *, positive: bool) -> _Validator:
    """An int or a finite float that is > 0 (``positive``) or >= 0."""
    noun = "an integer" if kind is int else "a finite number"
    bound = "> 0" if positive else ">= 0"

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        unit = _UNIT_WORDS[attribute.metadata["unit"]]
        wrong_type = isinstance(value, bool) or not isinstance(value, kind)
        if wrong_type or (kind is float and not math.isfinite(value)):
            raise ProfileError(
                f"{attribute.name} must be {noun} ({unit}), got {type(value).__name__} {value!r}"
            )
        if value < 0 or (positive and value == 0):
            raise ProfileError(f"{attribute.name} must be {bound} ({unit}), got {value!r}")

    return validate


_POSITIVE = _quantity(float, positive=True)
_NON_NEGATIVE = _quantity(float, positive=False)
_POSITIVE_INT = _quantity(int, positive=True)
_NON_NEGATIVE_INT = _quantity(int, positive=False)


def _power_of_two(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _POSITIVE_INT(instance, attribute, value)
    if value < _MIN_PAGE_SIZE or value & (value - 1):
        raise ProfileError(
            f"{attribute.name} must be a power of two >= {_MIN_PAGE_SIZE}, got {value!r}"
        )


def _whole_pages(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _POSITIVE_INT(instance, attribute, value)
    if value % instance.page_size_bytes:
        raise ProfileError(
            f"{attribute.name} must be a multiple of page_size_bytes "
            f"({instance.page_size_bytes}), got {value!r}"
        )


def _one_of(choices: tuple[str, ...]) -> _Validator:
    allowed = ", ".join(repr(choice) for choice in choices)

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ProfileError(f"{attribute.name} must be one of {allowed}, got {value!r}")

    return validate


def _text(*, is_name: bool) -> _Validator:
    """A string that TOML can store: valid Unicode; non-empty and printable if a name."""

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str):
            raise ProfileError(
                f"{attribute.name} must be a string, got {type(value).__name__} {value!r}"
            )
        if is_name and (not value or not value.isprintable()):
            raise ProfileError(
                f"{attribute.name} must be a non-empty printable string, got {value!r}"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProfileError(
                f"{attribute.name} must be valid Unicode text, got {value!r}"
            ) from None

    return validate


def _source_map(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dict):
        raise ProfileError(
            f"{attribute.name} must be a table of field name -> string, "
            f"got {type(value).__name__} {value!r}"
        )
    fields = list(FIELD_UNITS)
    for key, text in value.items():
        if key not in FIELD_UNITS:
            raise ProfileError(
                f"{attribute.name} names an unknown field {key!r}{did_you_mean(str(key), fields)}; "
                f"allowed: {', '.join(fields)}"
            )
        if not isinstance(text, str):
            raise ProfileError(
                f"{attribute.name}[{key!r}] must be a string, got {type(text).__name__} {text!r}"
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ProfileError(
                f"{attribute.name}[{key!r}] must be valid Unicode text, got {text!r}"
            ) from None


_NAME = _text(is_name=True)
_TEXT = _text(is_name=False)


def _copy_sources(value: Any) -> Any:
    """Keep a private copy of a sources mapping, so a profile never aliases caller data."""
    return dict(value) if isinstance(value, Mapping) else value


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
        validator=_NAME,
        metadata={"unit": "", "doc": "Short identifier of the profile, e.g. 'sun3-ethernet'."},
    )
    description: str = attrs.field(
        validator=_TEXT,
        metadata={"unit": "", "doc": "Which machines and network this profile describes."},
    )
    architecture: str = attrs.field(
        validator=_NAME,
        metadata={"unit": "", "doc": "Architecture tag of the nodes, e.g. 'm68k', 'x86_64'."},
    )
    page_size_bytes: int = attrs.field(
        validator=_power_of_two,
        metadata={"unit": "bytes", "doc": "Size of one page, the unit of paging and transfer."},
    )
    memory_bytes: int = attrs.field(
        validator=_whole_pages,
        metadata={"unit": "bytes", "doc": "Physical memory of each node, in whole pages."},
    )
    cpu_speed: float = attrs.field(
        converter=_int_to_float,
        validator=_POSITIVE,
        metadata={"unit": "", "doc": "Relative CPU speed: t CPU-seconds take t / cpu_speed."},
    )
    network_bandwidth_bps: float = attrs.field(
        converter=_int_to_float,
        validator=_POSITIVE,
        metadata={"unit": "bit/s", "doc": "Capacity of the shared segment or of each link."},
    )
    network_latency_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "One-way latency of a message, on top of transmission."},
    )
    topology: str = attrs.field(
        validator=_one_of(_TOPOLOGIES),
        metadata={"unit": "", "doc": "'shared' (one segment for all) or 'star' (switched)."},
    )
    packet_payload_bytes: int = attrs.field(
        validator=_POSITIVE_INT,
        metadata={"unit": "bytes", "doc": "Largest payload carried by one packet."},
    )
    packet_header_bytes: int = attrs.field(
        validator=_NON_NEGATIVE_INT,
        metadata={"unit": "bytes", "doc": "Bytes each packet adds on the wire (all layers)."},
    )
    message_cpu_overhead_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "Kernel CPU time per network message, at each end."},
    )
    packet_cpu_overhead_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={
            "unit": "s",
            "doc": "Kernel CPU cost per packet of a network message, at each end "
            "(interrupt, copy, protocol processing), on top of the per-message cost.",
        },
    )
    local_ipc_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "Cost of one message between two ports of one node."},
    )
    page_fault_trap_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "Cost of trapping a page fault into the memory manager."},
    )
    context_switch_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "Cost of switching the CPU between two processes."},
    )
    execution_state_bytes: int = attrs.field(
        validator=_POSITIVE_INT,
        metadata={"unit": "bytes", "doc": "PCB + registers + kernel stack moved by a migration."},
    )
    state_extract_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "CPU time to extract process state at the source."},
    )
    state_install_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "CPU time to install process state at the destination."},
    )
    file_server_bandwidth_bps: float = attrs.field(
        converter=_int_to_float,
        validator=_POSITIVE,
        metadata={"unit": "bit/s", "doc": "Disk bandwidth of the file server."},
    )
    file_server_latency_s: float = attrs.field(
        converter=_int_to_float,
        validator=_NON_NEGATIVE,
        metadata={"unit": "s", "doc": "Disk access time of the file server, per request."},
    )
    sources: dict[str, str] = attrs.field(
        factory=dict,
        converter=_copy_sources,
        validator=_source_map,
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
        names = [field.name for field in attrs.fields(cls)]
        problems = [
            f"unknown field {key!r}{did_you_mean(str(key), names)}"
            for key in data
            if key not in names
        ]
        missing = [name for name in FIELD_UNITS if name not in data]
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

        Raises:
            ProfileError: the file is not valid TOML or not a valid profile; the message
                starts with the file's path.
            OSError: the file cannot be read.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise ProfileError(f"{path}: not UTF-8 text: {error}") from None
        return _from_toml_text(text, origin=str(path))

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain value (``sources`` copied); the inverse of :meth:`from_dict`."""
        data = attrs.asdict(self, recurse=False)
        data["sources"] = dict(self.sources)
        return data

    def to_toml(self) -> str:
        """The profile as TOML text that :meth:`from_toml` reads back to an equal profile.

        One ``key = value`` line per field, each preceded by a comment with its unit and
        meaning, then the ``[sources]`` table in field order. Floats are written with
        ``repr`` so they round-trip exactly.
        """
        lines = [
            f"# rhodos machine profile {self.name!r}.",
            "# Units are SI: bytes, bits per second (bit/s), seconds (s).",
            "",
        ]
        for field in attrs.fields(type(self)):
            if field.name == "sources":
                continue
            unit = field.metadata["unit"]
            prefix = f"[{unit}] " if unit else ""
            lines.append(f"# {prefix}{field.metadata['doc']}")
            lines.append(f"{field.name} = {_toml_scalar(getattr(self, field.name))}")
        lines += ["", "[sources]"]
        for name in FIELD_UNITS:
            if name in self.sources:
                lines.append(f"{name} = {_toml_string(self.sources[name])}")
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_toml` to ``path`` (UTF-8), replacing any existing file."""
        Path(path).write_text(self.to_toml(), encoding="utf-8")

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
        if payload_bytes < 0:
            raise ValueError(f"payload_bytes must be >= 0, got {payload_bytes!r}")
        packets = max(1, -(-payload_bytes // self.packet_payload_bytes))
        return payload_bytes + packets * self.packet_header_bytes

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Network bandwidth in bytes per second."""
        return self.network_bandwidth_bps / 8

    @property
    def file_server_bytes_per_s(self) -> float:
        """File-server disk bandwidth in bytes per second."""
        return self.file_server_bandwidth_bps / 8


FIELD_UNITS: dict[str, str] = {
    field.name: field.metadata["unit"]
    for field in attrs.fields(MachineProfile)
    if field.name != "sources"
}
"""Field name -> unit ("bytes", "bit/s", "s", or "" when dimensionless), for every value
field (all fields but ``sources``), in definition order."""

FIELD_DOCS: dict[str, str] = {
    field.name: field.metadata["doc"]
    for field in attrs.fields(MachineProfile)
    if field.name != "sources"
}
"""Field name -> one-sentence description, for the same fields as :data:`FIELD_UNITS`."""


# ---------------------------------------------------------------------------------------
# TOML: reading through tomllib, writing flat scalars by hand.
# ---------------------------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_scalar(value: str | int | float) -> str:
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, float):
        return repr(value)  # shortest repr round-trips exactly; inf/nan are refused earlier
    return str(value)


def _from_toml_text(text: str, *, origin: str) -> MachineProfile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{origin}: not valid TOML: {error}") from None
    return MachineProfile.from_dict(data, origin=origin)


# ---------------------------------------------------------------------------------------
# Built-in profiles.
# ---------------------------------------------------------------------------------------


@functools.cache
def _load_builtins() -> tuple[MachineProfile, ...]:
    folder = resources.files("rhodos.kernel") / "profiles"
    profiles = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml"):
            continue
        origin = f"rhodos/kernel/profiles/{entry.name}"
        profile = _from_toml_text(entry.read_text(encoding="utf-8"), origin=origin)
        if f"{profile.name}.toml" != entry.name:
            raise ProfileError(f"{origin}: name {profile.name!r} does not match the file name")
        profiles.append(profile)
    return tuple(profiles)


def builtin_profiles() -> dict[str, MachineProfile]:
    """The profiles shipped in ``rhodos/kernel/profiles/``, by name (read once, cached)."""
    return {profile.name: profile for profile in _load_builtins()}


def load_profile(name_or_path: str | os.PathLike[str]) -> MachineProfile:
    """A built-in profile by name, or a profile read from a TOML file.

    A string is first looked up among the built-in names, then taken as a path.

    Raises:
        ProfileError: neither a built-in name nor an existing file (the message lists
            the built-in names), or the file is not a valid profile.
    """
    builtins = builtin_profiles()
    if isinstance(name_or_path, str) and name_or_path in builtins:
        return builtins[name_or_path]
    path = Path(name_or_path)
    if path.is_file():
        return MachineProfile.from_toml(path)
    hint = did_you_mean(str(name_or_path), list(builtins))
    raise ProfileError(
        f"unknown profile {str(name_or_path)!r}{hint}: not a built-in profile "
        f"({', '.join(sorted(builtins))}) and no such file"
    )
