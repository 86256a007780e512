"""Specification: a hostile sweep config or profile ends in one line and exit 2, at once.

Each input is one that once hung, exhausted memory, crashed with a traceback or was
silently accepted (a latency of 8.4e23 s reported as a result). Every one must now be
refused before anything runs -- by ``rhodos sweep`` (not only ``--dry-run``), by
``rhodos profiles --check`` and by a run that takes the profile -- in one line naming
the file, the key and what is allowed. A deadline turns a hang into a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_contract import breach, deadline, invoke

from rhodos.kernel import load_profile

#: Sweep configs: file name -> (its [sweep] table as TOML lines, words the error must hold).
SWEEPS = {
    "cpu_inf.toml": (
        'strategy = "eager"\nworkload = "memory-writer"\ncpu_seconds = inf',
        "cpu_seconds must be finite and within (0, 1e6] s",
    ),
    "dirty_inf.toml": ('strategy = "eager"\ndirty_rate = inf', "dirty_rate must be finite"),
    "nan.toml": (
        'strategy = "eager"\ndirty_rate = nan\ntouch_fraction = nan',
        "dirty_rate must be finite",
    ),
    "migrate_at_inf.toml": (
        'strategy = "eager"\nworkload = "pingpong"\nmigrate_at = inf',
        "migrate_at must be finite and within [0, 1e6] s",
    ),
    "nodes_huge.toml": ('strategy = "eager"\nnodes = 100000000', "nodes must be within [2, 32767]"),
    "memory_huge.toml": (
        'strategy = "eager"\nmemory_bytes = "99999999999999999999GiB"',
        "is too large",
    ),
    "huge_replications.toml": (
        'strategy = "eager"\nreplications = 1000000000',
        "1,000,000,000 runs; a sweep makes at most 1,000,000",
    ),
    "huge_product.toml": (
        'strategy = "eager"\nworkload = "memory-writer"\n'
        f"memory_bytes = {[f'{64 + i}KiB' for i in range(1000)]}\n"
        f"dirty_rate = {[float(i) for i in range(1000)]}\n"
        f"cpu_seconds = {[1 + i / 1000 for i in range(1000)]}",
        "1,000,000,000 runs",
    ),
    "deep_array.toml": ("strategy = " + "[" * 50_000 + "]" * 50_000, "nest"),
    "deep_inline.toml": (
        'strategy = "eager"\n[params]\neager = ' + "{a = " * 50_000 + "1" + "}" * 50_000,
        "nest",
    ),
    "deep_but_parsable.toml": ('strategy = "eager"\nseed = ' + "[" * 500 + "]" * 500, "nest"),
    "huge_integer.toml": ('strategy = "eager"\nseed = 1' + "0" * 5000, "not valid TOML"),
}

#: Profiles: file name -> (field = value, words the error must hold).
PROFILES = {
    "huge-int.toml": ("execution_state_bytes", "10" + "0" * 29, "at most memory_bytes"),
    "huge-latency.toml": ("network_latency_s", "1e308", "within [0, 1] (seconds)"),
    "huge-memory.toml": ("memory_bytes", "4503599627370496", "at most 256 TiB"),
    "huge-page.toml": ("page_size_bytes", "4611686018427387904", "within [256 bytes, 1 GiB]"),
    "inf-bandwidth.toml": ("network_bandwidth_bps", "inf", "finite"),
    "nan-latency.toml": ("network_latency_s", "nan", "finite"),
    "subnormal-cpu.toml": ("cpu_speed", "5e-324", "within [0.0001, 10000]"),
    "tiny-bandwidth.toml": ("network_bandwidth_bps", "1e-300", "within [1000, 1e13]"),
    "huge-float-int.toml": ("network_latency_s", "1" + "0" * 400, "within [0, 1]"),
}


def _refused(args: list[str], words: str) -> str:
    with deadline(60, f"rhodos {' '.join(args)[:80]}"):
        result = invoke(args)
    problem = breach(result)
    assert problem is None, problem
    assert result.exit_code == 2, result.stdout
    assert words in result.stderr, result.stderr
    return str(result.stderr)


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_a_hostile_sweep_config_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    """The sweep itself (not only its --dry-run) refuses the config before any run."""
    table, words = SWEEPS[name]
    config = tmp_path / name
    config.write_text(f"[sweep]\n{table}\n", encoding="utf-8")
    line = _refused(["sweep", str(config), "--out", str(tmp_path / "out")], words)
    assert str(config) in line
    assert not (tmp_path / "out" / "results.csv").exists()
    _refused(["sweep", str(config), "--dry-run"], words)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_a_hostile_profile_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    """`profiles --check` and a migration on the profile both refuse it, naming the field."""
    field, value, words = PROFILES[name]
    text = load_profile("sparc-ethernet").to_toml()
    lines = [
        f"{field} = {value}" if line.startswith(f"{field} =") else line for line in text.split("\n")
    ]
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    line = _refused(["profiles", "--check", str(path)], words)
    assert f"{path}: {field} must be" in line
    _refused(["migrate", "-s", "eager", "--profile", str(path)], words)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.mkdir(), "is a folder; give a file"),
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b"\xff\xfe[sweep]"), "not UTF-8 text"),
        (lambda p: p.write_text("[sweep\n"), "not valid TOML"),
    ],
)
def test_an_unreadable_config_is_named_with_what_is_wrong(make, words, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A folder, a missing file, bytes that are not UTF-8 or not TOML: the path and why."""
    config = tmp_path / "config.toml"
    make(config)
    line = _refused(["sweep", str(config)], words)
    assert str(config) in line


def test_a_device_is_not_read_as_a_config() -> None:
    """/dev/zero would be read for ever: it is refused as not a regular file."""
    _refused(["sweep", "/dev/zero"], "not a regular file")
    _refused(["profiles", "--check", "/dev/zero"], "not a regular file")


def test_a_process_larger_than_a_node_is_refused_before_the_sweep_runs(tmp_path: Path) -> None:
    """A 64 MiB process on 16 MiB SPARCstations is an impossible point, found in the plan."""
    config = tmp_path / "big.toml"
    config.write_text(
        '[sweep]\nstrategy = "eager"\nprofile = "sparc-ethernet"\n'
        'memory_bytes = ["1MiB", "64MiB"]\n'
    )
    _refused(["sweep", str(config), "--out", str(tmp_path / "out")], "does not fit in the 16 MiB")


class _Started(BaseException):
    """The computation was about to start."""


@pytest.fixture
def no_computing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any cluster booted or pool asked to run tasks raises _Started: nothing long runs."""
    from rhodos.experiment import executor
    from rhodos.kernel import cluster

    def started(*_args: object, **_kwargs: object) -> None:
        raise _Started

    monkeypatch.setattr(cluster.Cluster, "__init__", started)
    monkeypatch.setattr(executor.PoolExecutor, "map_unordered", started)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sweep", "{config}", "--out", "/proc/nope"], "--out folder /proc/nope: cannot write"),
        (["sweep", "{config}", "--out", "{file}"], "is a file, not a folder"),
        (["sweep", "{config}", "--trace", "/proc/nope/t.json"], "--trace file"),
        (["sweep", "{config}", "--trace", "{folder}"], "is a directory"),
        (["migrate", "-s", "eager", "--trace", "/proc/nope/t.json"], "folder of the --trace"),
        (["compare", "--csv", "{folder}"], "--csv file"),
        (["compare", "--plot", "/sys/rhodos/c.png"], "not permitted"),
        (["map", "--quick", "--out", "/proc/nope"], "--out folder /proc/nope"),
        (["map", "--quick", "--out", "{file}"], "is a file, not a folder"),
        (["--log-json", "/proc/nope/log.json", "run"], "--log-json file"),
        (["plot", "{folder}", "--out", "/proc/nope"], "--out folder"),
    ],
)
@pytest.mark.usefixtures("no_computing")
def test_an_output_that_cannot_be_written_is_refused_before_computing(
    args: list[str], words: str, tmp_path: Path
) -> None:
    """Missing or read-only places, folders for files and files for folders: one line,
    exit 2, and not a single run started (a run would raise _Started here)."""
    config = tmp_path / "sweep.toml"
    config.write_text('[sweep]\nstrategy = "eager"\nmemory_bytes = "64KiB"\n')
    (tmp_path / "a-file").write_text("x")
    places = {"{config}": config, "{folder}": tmp_path, "{file}": tmp_path / "a-file"}
    for placeholder, path in places.items():
        args = [a.replace(placeholder, str(path)) for a in args]
    if args[0] == "plot":
        (tmp_path / "manifest.json").write_text('{"sessions": []}')
    _refused(args, words)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_result_is_printed_even_when_its_trace_cannot_be_written() -> None:
    """A trace file on a full device: the JSON result is printed first, then one line."""
    result = invoke(
        ["migrate", "-s", "eager", "--memory", "64KiB", "--json", "--trace", "/dev/full"]
    )
    assert result.exit_code == 2, result.stderr
    assert '"latency_s"' in result.stdout
    assert result.stderr.startswith("error: --trace file /dev/full: cannot write: no space left")


def test_profiles_whose_bases_loop_are_refused_in_one_line(tmp_path: Path) -> None:
    """A profile based on itself, or on one based on it, would recurse for ever."""
    (tmp_path / "loop.toml").write_text('base = "loop.toml"\nname = "loop"\n')
    (tmp_path / "a.toml").write_text('base = "b.toml"\nname = "a"\n')
    (tmp_path / "b.toml").write_text('base = "a.toml"\nname = "b"\n')
    for name in ("loop.toml", "a.toml"):
        _refused(["profiles", "--check", str(tmp_path / name)], "base profiles lead back to it")
