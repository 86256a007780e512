"""Specification of the machine profile: validation, TOML round trips, built-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rhodos.kernel.profile import (
    FIELD_DOCS,
    FIELD_UNITS,
    MachineProfile,
    ProfileError,
    builtin_profiles,
    load_profile,
)

REQUIRED_BUILTINS = ("sun3-ethernet", "sparc-ethernet", "modern-10gbe")


@pytest.fixture
def sun3() -> MachineProfile:
    return load_profile("sun3-ethernet")


def _toml_without(profile: MachineProfile, key: str) -> str:
    """The profile's TOML text with the line assigning ``key`` removed."""
    lines = profile.to_toml().splitlines()
    return "\n".join(line for line in lines if not line.startswith(f"{key} = ")) + "\n"


# -- built-in profiles ------------------------------------------------------------------


def test_required_builtins_exist() -> None:
    """The Sun-3, SPARCstation and modern 10 GbE profiles are shipped."""
    assert set(REQUIRED_BUILTINS) <= set(builtin_profiles())


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_builtin_round_trips_through_toml(name: str, tmp_path: Path) -> None:
    """Every built-in profile saved to TOML loads back equal to itself."""
    profile = builtin_profiles()[name]
    path = tmp_path / f"{name}.toml"
    profile.save(path)
    assert MachineProfile.from_toml(path) == profile
    assert MachineProfile.from_dict(profile.to_dict()) == profile


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_builtin_cites_a_source_for_every_field(name: str) -> None:
    """Every value of a built-in profile says where it came from."""
    profile = builtin_profiles()[name]
    assert profile.name == name
    assert set(profile.sources) == set(FIELD_UNITS)
    assert all(text.strip() for text in profile.sources.values())


def test_builtin_hardware_matches_the_papers() -> None:
    """Page sizes, architectures and networks are those of the machines described."""
    profiles = builtin_profiles()
    sun3, sparc, modern = (profiles[name] for name in REQUIRED_BUILTINS)
    assert (sun3.architecture, sun3.page_size_bytes, sun3.topology) == ("m68k", 8192, "shared")
    assert (sparc.architecture, sparc.page_size_bytes, sparc.topology) == ("sparc", 4096, "shared")
    assert (modern.architecture, modern.page_size_bytes, modern.topology) == (
        "x86_64",
        4096,
        "star",
    )
    assert sun3.network_bandwidth_bps == sparc.network_bandwidth_bps == 10e6
    assert modern.network_bandwidth_bps == 10e9


def test_every_field_documents_its_unit_and_meaning() -> None:
    """FIELD_UNITS and FIELD_DOCS cover every value field, derived from the attrs metadata."""
    names = [field.name for field in attrs.fields(MachineProfile) if field.name != "sources"]
    assert list(FIELD_UNITS) == names == list(FIELD_DOCS)
    assert FIELD_UNITS["network_bandwidth_bps"] == "bit/s"
    assert FIELD_UNITS["page_size_bytes"] == "bytes"
    assert FIELD_UNITS["network_latency_s"] == "s"
    assert all(doc.endswith(".") for doc in FIELD_DOCS.values())


# -- validation ---------------------------------------------------------------------------


def test_negative_bandwidth_is_refused(sun3: MachineProfile) -> None:
    """A negative network bandwidth names the field, the bound and the value."""
    with pytest.raises(ProfileError) as caught:
        attrs.evolve(sun3, network_bandwidth_bps=-1.0)
    assert str(caught.value) == (
        "network_bandwidth_bps must be within [1000, 1e13] (bits per second), got -1.0"
    )


def test_page_size_must_be_a_power_of_two(sun3: MachineProfile) -> None:
    """A page size of 3000 bytes is refused as not a power of two."""
    with pytest.raises(ProfileError, match=r"page_size_bytes must be a power of two within \[256"):
        attrs.evolve(sun3, page_size_bytes=3000)


def test_memory_must_be_whole_pages(sun3: MachineProfile) -> None:
    """Physical memory that is not a multiple of the page size is refused."""
    with pytest.raises(ProfileError, match=r"memory_bytes must be a multiple of page_size_bytes"):
        attrs.evolve(sun3, memory_bytes=8192 * 10 + 1)


def test_unknown_topology_lists_the_allowed_ones(sun3: MachineProfile) -> None:
    """An unknown topology is refused with the list of known topologies."""
    with pytest.raises(ProfileError) as caught:
        attrs.evolve(sun3, topology="ring")
    message = str(caught.value)
    assert "topology" in message and "'shared'" in message and "'star'" in message
    assert "'ring'" in message


def test_non_finite_numbers_are_refused(sun3: MachineProfile) -> None:
    """Infinity and NaN are not valid costs."""
    with pytest.raises(ProfileError, match="network_latency_s must be a finite number"):
        attrs.evolve(sun3, network_latency_s=float("inf"))
    with pytest.raises(ProfileError, match="local_ipc_s must be a finite number"):
        attrs.evolve(sun3, local_ipc_s=float("nan"))


def test_ints_are_accepted_for_float_fields(sun3: MachineProfile) -> None:
    """An int given for a float field is stored as the equal float."""
    profile = attrs.evolve(sun3, network_bandwidth_bps=10_000_000, cpu_speed=2)
    assert profile.network_bandwidth_bps == 10e6 and isinstance(profile.cpu_speed, float)
    assert profile == attrs.evolve(sun3, network_bandwidth_bps=10e6, cpu_speed=2.0)


def test_floats_are_refused_for_integer_fields(sun3: MachineProfile) -> None:
    """A float page size is a type error, not silently truncated."""
    data = sun3.to_dict()
    data["page_size_bytes"] = 8192.0
    with pytest.raises(ProfileError, match="page_size_bytes must be an integer"):
        MachineProfile.from_dict(data)


def test_profiles_are_hashable_values(sun3: MachineProfile) -> None:
    """Equal profiles hash alike, so profiles can key caches and sets."""
    assert hash(sun3) == hash(MachineProfile.from_dict(sun3.to_dict()))


# -- reading TOML -------------------------------------------------------------------------


def test_unknown_key_suggests_the_nearest_field(sun3: MachineProfile, tmp_path: Path) -> None:
    """A misspelt key is refused, naming the file and suggesting the intended field."""
    path = tmp_path / "typo.toml"
    path.write_text(sun3.to_toml().replace("network_bandwidth_bps =", "network_bandwith_bps ="))
    with pytest.raises(ProfileError) as caught:
        MachineProfile.from_toml(path)
    message = str(caught.value)
    assert str(path) in message
    assert "unknown field 'network_bandwith_bps'" in message
    assert "did you mean 'network_bandwidth_bps'?" in message


def test_missing_key_is_named(sun3: MachineProfile, tmp_path: Path) -> None:
    """A file without a required field is refused, naming the missing field and the file."""
    path = tmp_path / "short.toml"
    path.write_text(_toml_without(sun3, "context_switch_s"))
    with pytest.raises(ProfileError) as caught:
        MachineProfile.from_toml(path)
    assert "missing field(s): context_switch_s" in str(caught.value)
    assert str(path) in str(caught.value)


def test_wrong_type_is_named(sun3: MachineProfile, tmp_path: Path) -> None:
    """A string where a number is expected is refused, naming the field and the file."""
    path = tmp_path / "typed.toml"
    text = _toml_without(sun3, "local_ipc_s").replace(
        "[sources]", 'local_ipc_s = "fast"\n[sources]'
    )
    path.write_text(text)
    with pytest.raises(ProfileError) as caught:
        MachineProfile.from_toml(path)
    message = str(caught.value)
    assert str(path) in message
    assert "local_ipc_s must be a finite number (seconds), got str 'fast'" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A file that is not TOML at all is refused with its path."""
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ProfileError, match="not valid TOML") as caught:
        MachineProfile.from_toml(path)
    assert str(path) in str(caught.value)


def test_sources_may_be_left_out(sun3: MachineProfile) -> None:
    """A hand-written profile without a sources table is valid."""
    data: dict[str, Any] = sun3.to_dict()
    del data["sources"]
    assert MachineProfile.from_dict(data).sources == {}


def test_sources_must_name_real_fields(sun3: MachineProfile) -> None:
    """A source for a field that does not exist is refused with a suggestion."""
    with pytest.raises(ProfileError, match="did you mean 'page_size_bytes'"):
        attrs.evolve(sun3, sources={"page_size_byte": "datasheet"})


# -- load_profile -------------------------------------------------------------------------


def test_load_unknown_name_lists_the_builtins() -> None:
    """An unknown name that is not a file is refused with the list of built-in names."""
    with pytest.raises(ProfileError) as caught:
        load_profile("nope")
    message = str(caught.value)
    assert "'nope'" in message
    assert all(name in message for name in builtin_profiles())


def test_load_from_a_path(sun3: MachineProfile, tmp_path: Path) -> None:
    """A path to a TOML file, as str or Path, loads the profile saved there."""
    changed = attrs.evolve(sun3, name="my-sun3", network_latency_s=1e-4)
    path = tmp_path / "my-sun3.toml"
    changed.save(path)
    assert load_profile(path) == changed
    assert load_profile(str(path)) == changed


def test_builtins_are_shared_but_not_mutable_through_the_result() -> None:
    """Changing the returned mapping does not change the built-ins."""
    builtin_profiles().clear()
    assert set(REQUIRED_BUILTINS) <= set(builtin_profiles())


# -- derived quantities -------------------------------------------------------------------


def test_wire_bytes_counts_one_header_per_packet(sun3: MachineProfile) -> None:
    """An empty message is one header; a full packet one header; one byte more two headers."""
    payload, header = sun3.packet_payload_bytes, sun3.packet_header_bytes
    assert sun3.wire_bytes(0) == header
    assert sun3.wire_bytes(1) == 1 + header
    assert sun3.wire_bytes(payload) == payload + header
    assert sun3.wire_bytes(payload + 1) == payload + 1 + 2 * header
    assert sun3.wire_bytes(8192) == 8192 + 6 * header  # one 8 KiB page in 1460-byte packets


def test_wire_bytes_refuses_negative_payloads(sun3: MachineProfile) -> None:
    """A negative payload size is a programming error."""
    with pytest.raises(ValueError, match="payload_bytes must be >= 0"):
        sun3.wire_bytes(-1)


def test_byte_rates(sun3: MachineProfile) -> None:
    """Bandwidths in bytes per second are the bit rates divided by eight."""
    assert sun3.bandwidth_bytes_per_s == sun3.network_bandwidth_bps / 8 == 1.25e6
    assert sun3.file_server_bytes_per_s == sun3.file_server_bandwidth_bps / 8


# -- property: any valid variation round-trips -------------------------------------------

_seconds = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_infinity=False)
_rates = st.floats(min_value=1e3, max_value=1e13, allow_nan=False, allow_infinity=False)
_speeds = st.floats(min_value=1e-4, max_value=1e4, allow_nan=False, allow_infinity=False)
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_names = st.text(st.characters(exclude_categories=["Cs", "Cc", "Cf", "Zl", "Zp"]), min_size=1)


@st.composite
def _variations(draw: st.DrawFn) -> MachineProfile:
    base = draw(st.sampled_from(sorted(builtin_profiles().values(), key=lambda p: p.name)))
    page = 2 ** draw(st.integers(min_value=8, max_value=21))
    return attrs.evolve(
        base,
        # A built-in's name is refused for a variation (tests/test_details.py).
        name=draw(_names.filter(str.isprintable).filter(lambda n: n not in builtin_profiles())),
        description=draw(_text),
        page_size_bytes=page,
        memory_bytes=page * draw(st.integers(-(-base.execution_state_bytes // page), 2**20)),
        cpu_speed=draw(_speeds),
        network_bandwidth_bps=draw(_rates),
        network_latency_s=draw(_seconds),
        topology=draw(st.sampled_from(["shared", "star"])),
        packet_payload_bytes=draw(st.integers(min_value=1, max_value=65536)),
        packet_header_bytes=draw(st.integers(min_value=0, max_value=256)),
        message_cpu_overhead_s=draw(_seconds),
        state_extract_s=draw(st.integers(min_value=0, max_value=1)),  # ints become floats
        file_server_bandwidth_bps=draw(_rates),
        sources={**base.sources, "description": draw(_text)},
    )


@settings(max_examples=200, deadline=None)
@given(profile=_variations())
def test_any_valid_variation_round_trips_through_toml(
    profile: MachineProfile, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A profile varied from a built-in with attrs.evolve reads back equal from its TOML."""
    path = tmp_path_factory.getbasetemp() / "variation.toml"
    profile.save(path)
    assert MachineProfile.from_toml(path) == profile
    assert MachineProfile.from_dict(profile.to_dict()) == profile


def test_the_documented_ranges_are_those_the_profile_checks() -> None:
    """docs/how-to/new-profile.md lists every ranged field with the range the code checks."""
    guide = Path(__file__).parents[1] / "docs" / "how-to" / "new-profile.md"
    rows = [line for line in guide.read_text().splitlines() if line.strip().startswith("| `")]
    for attribute in attrs.fields(MachineProfile):
        words = attribute.metadata.get("range", "")
        if not words:
            continue
        row = next((r for r in rows if f"`{attribute.name}`" in r.split("|")[1]), None)
        assert row is not None, f"{attribute.name} is not in the guide's table of ranges"
        assert words.removeprefix("within ") in row.split("|")[2], (attribute.name, words, row)
