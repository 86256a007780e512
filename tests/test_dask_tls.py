"""Specification: sweeps run on a Dask cluster over TLS (``--scheduler tls://...``) with
the client's certificates from Dask's own configuration, and say in one line what is
missing when they are not there.

The run on a real TLS scheduler and worker (certificates made with ``openssl``) takes
seconds to start: it runs with ``RHODOS_LONG_TESTS=1`` (``make fuzz-cli``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_contract import breach, invoke

from rhodos.experiment.config import SweepConfig
from rhodos.experiment.executor import TLS_SETTINGS, SerialExecutor
from rhodos.experiment.results import ResultsFile
from rhodos.experiment.sweep import run_sweep

pytest.importorskip("distributed")  # first: it adds its defaults to Dask's configuration
dask_config = pytest.importorskip("dask.config")

CONFIG = '[sweep]\nname = "tls"\nreplications = 2\nstrategy = ["eager", "postcopy"]\n'
CONFIG += 'memory_bytes = "64KiB"\ncpu_seconds = 0.4\nmigrate_at = 0.1\n'
TLS_KEYS = ("ca-file", "client.cert", "client.key")


def test_a_tls_scheduler_without_certificates_is_refused_in_one_line(tmp_path: Path) -> None:
    """No client certificate configured: one line naming the settings, before connecting."""
    config = tmp_path / "tls.toml"
    config.write_text(CONFIG)
    unset = {f"distributed.comm.tls.{key}": None for key in TLS_KEYS}
    with dask_config.set(unset):
        result = invoke(["sweep", str(config), "--scheduler", "tls://127.0.0.1:1"])
    assert breach(result) is None, breach(result)
    assert result.exit_code == 2 and TLS_SETTINGS[0] in result.stderr
    missing = {f"distributed.comm.tls.{key}": str(tmp_path / "none.pem") for key in TLS_KEYS}
    with dask_config.set(missing):
        result = invoke(["sweep", str(config), "--scheduler", "tls://127.0.0.1:1"])
    assert result.exit_code == 2 and "none.pem: no such file" in result.stderr


def _certificates(folder: Path) -> dict[str, str]:
    """A CA and a certificate for 127.0.0.1 signed by it (openssl)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=rhodos-test-ca",
    )
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "node.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "node.pem",
        "-days",
        "1",
        "-extfile",
        "san.cnf",
    )
    return {
        "ca": str(folder / "ca.pem"),
        "cert": str(folder / "node.pem"),
        "key": str(folder / "node.key"),
    }


@pytest.mark.skipif(
    not os.environ.get("RHODOS_LONG_TESTS"), reason="seconds to start: make fuzz-cli"
)
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for certificates")
def test_a_sweep_runs_on_a_tls_cluster(tmp_path: Path) -> None:
    """A scheduler and a worker that speak only TLS; the sweep's rows are those of a
    serial run."""
    files = _certificates(tmp_path)
    tls = ["--tls-ca-file", files["ca"], "--tls-cert", files["cert"], "--tls-key", files["key"]]
    dask = str(Path(sys.executable).parent / "dask")
    port = "8797"
    address = f"tls://127.0.0.1:{port}"
    started = []
    try:
        for args in (
            [
                "scheduler",
                "--protocol",
                "tls",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--dashboard-address",
                ":0",
                *tls,
            ],
            ["worker", address, "--nworkers", "1", "--nthreads", "1", *tls],
        ):
            started.append(
                subprocess.Popen(
                    [dask, *args],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            time.sleep(4)
        config = tmp_path / "tls.toml"
        config.write_text(CONFIG)
        env = {
            **os.environ,
            TLS_SETTINGS[0]: files["ca"],
            TLS_SETTINGS[1]: files["cert"],
            TLS_SETTINGS[2]: files["key"],
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rhodos",
                "sweep",
                str(config),
                "--out",
                str(tmp_path / "out"),
                "--scheduler",
                address,
                "--no-progress",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f"on dask scheduler at {address}" in done.stdout
        reference = tmp_path / "reference"
        run_sweep(SweepConfig.from_toml(config), reference, executor=SerialExecutor())
        rows = ResultsFile(tmp_path / "out" / "results.csv").rows()
        assert rows == ResultsFile(reference / "results.csv").rows()
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
