"""Specification of failure detection as profile fields: each built-in profile gives its
timeouts and heartbeat settings with a source, a profile file may set them, a value out
of range is one clear line, and a run's detection is what the profile says."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_contract import breach, invoke

from rhodos.faults import Crash, FaultInjector, FaultPlan
from rhodos.kernel import ClusterConfig, Detection, ProfileError, builtin_profiles, load_profile
from rhodos.kernel.profile import MachineProfile
from rhodos.system import boot, spawn
from rhodos.workload.programs import Computer

FIELDS = ("request_timeout_s", "transport_timeout_s", "heartbeat_interval_s", "heartbeat_misses")


@pytest.mark.parametrize("name", sorted(builtin_profiles()))
def test_every_builtin_profile_gives_its_detection_settings_with_a_source(name: str) -> None:
    """Written in the file, each with where its value came from, and equal to what a
    profile that leaves them out derives from its costs."""
    profile = builtin_profiles()[name]
    text = (Path(__file__).parents[1] / "rhodos/kernel/profiles" / f"{name}.toml").read_text()
    data = profile.to_dict()
    for field in FIELDS:
        assert f"\n{field} = " in text
        assert profile.sources[field].startswith("assumed:")
        del data[field]
    assert MachineProfile.from_dict(data) == profile


def test_a_profile_file_sets_the_detection_and_a_run_uses_it(tmp_path: Path) -> None:
    """Heartbeats every 0.25 s, suspected after 2: a crash at 1 s is declared within
    about 0.5 s plus a probe, not the 3 s of the built-in setting."""
    path = tmp_path / "quick.toml"
    path.write_text(
        'base = "sun3-ethernet"\nname = "quick-detector"\n'
        "heartbeat_interval_s = 0.25\nheartbeat_misses = 2\nrequest_timeout_s = 0.2\n"
    )
    profile = load_profile(str(path))
    detection = Detection.for_profile(profile)
    assert (detection.heartbeat_interval_s, detection.heartbeat_misses) == (0.25, 2)
    assert detection.request_timeout_s == 0.2 and detection.suspicion_s == 0.5
    cluster = boot(config=ClusterConfig(nodes=3, profile=str(path)))
    injector = FaultInjector(cluster, FaultPlan(crashes=[Crash(0, 1.0)], until_s=10))
    spawn(cluster, Computer(cpu_seconds=3.0, memory_bytes=64 * 1024), 0)
    cluster.run(until=10)
    [declared_at] = injector.journal.declared_at
    assert 1.5 <= declared_at < 2.0


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("heartbeat_misses = 0", "heartbeat_misses must be within [1, 1000]"),
        ("heartbeat_interval_s = 0.0", "heartbeat_interval_s must be within [1e-6, 3600]"),
        ("request_timeout_s = 7200.0", "request_timeout_s must be within [1e-6, 3600]"),
        ("transport_timeout_s = true", "transport_timeout_s must be a finite number"),
    ],
)
def test_a_detection_value_out_of_range_is_one_line(tmp_path: Path, line: str, words: str) -> None:
    """Refused with the field and what it allows, by the loader and by the command line."""
    path = tmp_path / "bad.toml"
    path.write_text(f'base = "sun3-ethernet"\nname = "bad-detector"\n{line}\n')
    with pytest.raises(ProfileError, match=words.replace("[", r"\[")):
        load_profile(str(path))
    result = invoke(["profiles", "--check", str(path)])
    assert result.exit_code == 2 and breach(result) is None
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
