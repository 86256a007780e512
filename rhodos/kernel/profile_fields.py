"""The kinds of field a machine profile has: what each value may be, its unit, its meaning.

:class:`~rhodos.kernel.profile.MachineProfile` declares each field once, as
``attrs.field(**helper(unit, validator, doc))`` with one of the helpers here:
:func:`number` (a float cost or rate), :func:`count` (an int), :func:`field` (anything
with its own validator). They return the keyword arguments of ``attrs.field`` rather than
the field itself, so that type checkers still see a field without a default. Each keeps
the field's unit
(``"bytes"``, ``"bit/s"``, ``"s"``, or ``""`` when dimensionless) and its one-sentence
meaning in the attrs metadata, from which the profile derives ``FIELD_UNITS``,
``FIELD_DOCS``, the comments of its TOML files and the ``rhodos profiles`` table. Every
validator raises :class:`ProfileError` naming the field, its unit, what is allowed and
the value given; ranges use the shared words of :mod:`rhodos.validators`.

Every quantity has a finite, physically sensible range, wide enough for every machine
of the literature and every legal extreme (costs of 0 are legal: they widen timing
windows), narrow enough that no value can make a simulated time overflow, a run never
end, or a node need more memory than the host has. The ranges, and why:

``TIME`` [0, 1] s
    any per-operation cost (a message's CPU overhead, a local IPC, a trap, a context
    switch, extracting or installing state, a disk access) and the network's one-way
    latency. The slowest in the built-in profiles is a 1980s disk access (40 ms); a
    geostationary satellite hop, the longest one-way latency of any network in use, is
    about 0.27 s (2 x 35,786 km at the speed of light). 1 s is above every real one.
``RATE`` [1e3, 1e13] bit/s
    network and file-server bandwidth: from below the slowest modem line (1,200 bit/s,
    Bell 212A) to ten times the fastest single link standardised (800 Gb/s Ethernet,
    IEEE 802.3df-2024). A bit rate of 1e-300 would make one message take 1e300 s.
``SPEED`` [1e-4, 1e4]
    relative CPU speed: a CPU up to 10^4 times slower or faster than the one the
    profile's compute times are written for (a 1 MIPS VAX-11/780 against a core of a
    few 10^4 MIPS is such a ratio).
``INSTRUCTIONS`` [1e4, 1e12] instructions/s
    the CPU's instruction rate: from a hundredth of a MIPS (below the PERQ's 1 MIPS, the
    slowest built-in machine) to 1e12, some thirty times a 2020s core (the 3.7e9
    measured for modern-10gbe).
page size: a power of two within [256 bytes, 1 GiB]
    from the smallest pages of the literature (VAX: 512 bytes; 256 leaves room) to the
    largest page x86-64 maps (1 GiB).
node memory: whole pages, at most 256 TiB (``2**48`` bytes)
    48 address bits, what x86-64 4-level paging addresses; the largest single machines
    sold hold 48 TiB.
``PACKET`` payload within [1, 65536] bytes, header within [0, 1024] bytes
    a packet carries at most a 64 KiB IP datagram (or a TCP segmentation offload
    unit); Ethernet + IPv6 + TCP with every option is under 200 bytes of headers.
execution state: within [1 byte, the node's memory]
    the PCB, registers and kernel stack live in the node's memory.
``CACHE`` [0, 2**48] bytes
    the file server's memory cache: none, up to the most memory a node may have.
``WAIT`` [1e-6, 3600] s
    a failure detector's timeouts and heartbeat period: from a microsecond (below the
    73 us that four round trips of a small message take on the modern 10 GbE profile)
    to an hour (a node silent for an hour is dead by any detector's judgement; a longer
    wait would only make a run last longer, never detect anything sooner).
``MISSES`` [1, 1000] heartbeats
    missed in a row before a node is suspected: at least one; a thousand periods of
    silence is past any detector's use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from rhodos.validators import Rule, did_you_mean, one_of, positive, shown, within

__all__ = [
    "HEADER",
    "INSTRUCTIONS",
    "MAX_MEMORY",
    "MAX_PAGE_SIZE",
    "MISSES",
    "NAME",
    "PAYLOAD",
    "RATE",
    "SPEED",
    "TEXT",
    "TIME",
    "WAIT",
    "ProfileError",
    "choice",
    "copy_sources",
    "count",
    "field",
    "number",
    "power_of_two",
    "source_map",
    "state_size",
    "whole_pages",
]

_MIN_PAGE_SIZE = 256
#: The largest page: 1 GiB, the largest page x86-64 maps.
MAX_PAGE_SIZE = 1 << 30
#: The most memory a node may have: 256 TiB, 48 address bits.
MAX_MEMORY = 1 << 48

#: Any cost of one operation, or the network's one-way latency, in seconds.
TIME = within(0, 1)
#: The highest bit rate a profile may have: ten times the fastest link standardised.
MAX_RATE_BPS = 1e13
#: A bit rate (network or file server).
RATE = within(1e3, MAX_RATE_BPS)
#: The file server's memory cache: none (0) up to the most memory a node may have.
CACHE = within(0, MAX_MEMORY)
#: A CPU's speed relative to the one the compute times are written for.
SPEED = within(1e-4, 1e4)
#: Instructions a CPU executes per second of CPU time.
INSTRUCTIONS = within(1e4, 1e12)
#: The payload of one packet, and the bytes each packet adds on the wire.
PAYLOAD = within(1, 65536)
HEADER = within(0, 1024)
#: A failure detector's timeout or heartbeat period, in seconds.
WAIT = within(1e-6, 3600)
#: Heartbeats missed in a row before a node is suspected.
MISSES = within(1, 1000)

_UNIT_WORDS = {
    "bytes": "bytes",
    "bit/s": "bits per second",
    "s": "seconds",
    "instructions/s": "instructions per second",
    "": "dimensionless",
}

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


class ProfileError(ValueError):
    """A machine profile's input is invalid: the message names the field and what is allowed."""


# -- the helpers that declare a field ----------------------------------------------------


def field(unit: str, validator: Validator, doc: str) -> dict[str, Any]:
    """A profile field: its ``unit``, its validator and its one-sentence ``doc``.

    A validator that states a range carries it as its ``words`` (kept as the field's
    ``range`` metadata, which the documentation's table of ranges is checked against).
    """
    words = getattr(validator, "words", "")
    return {"validator": validator, "metadata": {"unit": unit, "doc": doc, "range": words}}


def number(unit: str, rule: Rule, doc: str) -> dict[str, Any]:
    """A finite float meeting ``rule``; an int is accepted (TOML writes ``10`` for ``10.0``)."""
    return {**field(unit, _quantity(float, rule), doc), "converter": _int_to_float}


def count(unit: str, rule: Rule, doc: str) -> dict[str, Any]:
    """An int meeting ``rule``."""
    return field(unit, _quantity(int, rule), doc)


def _stating(words: str) -> Callable[[Validator], Validator]:
    """Give a validator function the ``words`` of the range it checks."""

    def decorate(validator: Validator) -> Validator:
        validator.words = words  # type: ignore[attr-defined]
        return validator

    return decorate


# -- validators and converters -------------------------------------------------------------


def _int_to_float(value: Any) -> Any:
    """Accept an int where a float is expected (one too big for a float stays an int, for
    the range check to refuse)."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return value
    return value


def _quantity(kind: type[int] | type[float], rule: Rule) -> Validator:
    """An int, or a finite float, within ``rule``'s range (``TIME``, ``RATE``, ...)."""
    noun = "an integer" if kind is int else "a finite number"
    accepted = int if kind is int else (int, float)  # an int too big for a float stays one

    @_stating(rule.words)
    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        unit = _UNIT_WORDS[attribute.metadata["unit"]]
        wrong_type = isinstance(value, bool) or not isinstance(value, accepted)
        if wrong_type or (isinstance(value, float) and not math.isfinite(value)):
            raise ProfileError(
                f"{attribute.name} must be {noun} ({unit}), "
                f"got {type(value).__name__} {shown(value)}"
            )
        if not rule.holds(value):
            raise ProfileError(
                f"{attribute.name} must be {rule.words} ({unit}), got {shown(value)}"
            )

    return validate


_POSITIVE_INT = _quantity(int, positive)


@_stating("a power of two within [256 bytes, 1 GiB]")
def power_of_two(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A page size: an int power of two, from 256 bytes to 1 GiB."""
    _POSITIVE_INT(instance, attribute, value)
    if not _MIN_PAGE_SIZE <= value <= MAX_PAGE_SIZE or value & (value - 1):
        raise ProfileError(
            f"{attribute.name} must be a power of two within [{_MIN_PAGE_SIZE} bytes, 1 GiB], "
            f"got {shown(value)}"
        )


@_stating("whole pages, at most 256 TiB")
def whole_pages(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A node's memory: a positive multiple of the profile's page size, at most 256 TiB."""
    _POSITIVE_INT(instance, attribute, value)
    if value > MAX_MEMORY:
        raise ProfileError(
            f"{attribute.name} must be at most 256 TiB ({MAX_MEMORY} bytes), got {shown(value)}"
        )
    if value % instance.page_size_bytes:
        raise ProfileError(
            f"{attribute.name} must be a multiple of page_size_bytes "
            f"({instance.page_size_bytes}), got {value!r}"
        )


@_stating("within [1 byte, `memory_bytes`]")
def state_size(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """The execution state: a positive int of bytes that fits in a node's memory."""
    _POSITIVE_INT(instance, attribute, value)
    if value > instance.memory_bytes:
        raise ProfileError(
            f"{attribute.name} must be at most memory_bytes ({instance.memory_bytes} bytes): "
            f"the state lives in a node's memory; got {shown(value)}"
        )


def choice(choices: tuple[str, ...]) -> Validator:
    """One of ``choices``."""
    rule = one_of(choices)

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        rule.check(attribute.name, value, ProfileError)

    return validate


def _unicode(subject: str, text: str) -> None:
    """TOML files are UTF-8: a lone surrogate cannot be stored."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProfileError(f"{subject} must be valid Unicode text, got {text!r}") from None


def _text(*, is_name: bool) -> Validator:
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
        _unicode(attribute.name, value)

    return validate


NAME = _text(is_name=True)
TEXT = _text(is_name=False)


def source_map(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """The ``sources`` table: value field name -> valid Unicode text."""
    if not isinstance(value, dict):
        raise ProfileError(
            f"{attribute.name} must be a table of field name -> string, "
            f"got {type(value).__name__} {value!r}"
        )
    fields = [f.name for f in attrs.fields(type(instance)) if f.name != attribute.name]
    for key, text in value.items():
        if key not in fields:
            raise ProfileError(
                f"{attribute.name} names an unknown field {key!r}{did_you_mean(str(key), fields)}; "
                f"allowed: {', '.join(fields)}"
            )
        if not isinstance(text, str):
            raise ProfileError(
                f"{attribute.name}[{key!r}] must be a string, got {type(text).__name__} {text!r}"
            )
        _unicode(f"{attribute.name}[{key!r}]", text)


def copy_sources(value: Any) -> Any:
    """Keep a private copy of a sources mapping, so a profile never aliases caller data."""
    return dict(value) if isinstance(value, Mapping) else value
