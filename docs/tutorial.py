# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # rhodos in twenty minutes: from install to a comparison plot
#
# This tutorial opens as a notebook (`jupytext --to notebook docs/tutorial.py`) and runs
# as a script (`python docs/tutorial.py`; the test suite runs it so). It migrates one
# process, compares every strategy, runs a small sweep with replications and plots it,
# and writes what it draws into `results/tutorial/` under the folder you run it from.
#
# ## 0. Install
#
# From a clone of the repository, `make test` creates `.venv` with every dependency
# and runs the tests; `make run` runs the strategy comparison. Then use
# `.venv/bin/python` (or `source .venv/bin/activate`) to run this file.

# %%
import shutil
from pathlib import Path

from rhodos.experiment import Scenario, SweepConfig, compare, run_migration, run_sweep
from rhodos.experiment.figures import plot_sweep
from rhodos.experiment.plot import plot_comparison

workdir = Path("results/tutorial")

# %% [markdown]
# ## 1. One migration
#
# A `Scenario` fixes everything but the strategy: the machine profile (here Sun-3
# workstations on a 10 Mb/s Ethernet), the workload (a process writing 20 pages a
# second in a 1 MiB address space), when it is migrated, and the seed.
# `run_migration` runs it twice, with and without the migration, and returns the
# `MigrationRecord`.

# %%
scenario = Scenario(profile="sun3-ethernet", memory_bytes="1MiB", dirty_rate=20.0)
record = run_migration(scenario, "precopy", {"max_rounds": 3})

print(f"latency {record.latency_s * 1e3:.1f} ms, freeze {record.freeze_s * 1e3:.1f} ms")
print(f"rounds (pages): {record.rounds}, bytes by kind: {record.bytes_by_kind}")
for phase, at in record.phases:
    print(f"  {phase:<14} {at * 1e3:9.3f} ms")

# %% [markdown]
# Precopy copied the whole space while the process ran, then the pages it dirtied, and
# froze it only for the last, small round: the freeze is a fraction of the latency.

# %%
assert record.freeze_s < record.latency_s / 5

# %% [markdown]
# ## 2. Every strategy on the same workload
#
# `compare` runs every registered strategy with the same seed, so the differences are
# the strategies' alone.

# %%
records = compare(scenario)
for r in records:
    print(
        f"{r.strategy:<18} latency {r.latency_s * 1e3:8.1f} ms  freeze {r.freeze_s * 1e3:8.1f} ms"
        f"  total {r.total_s * 1e3:8.1f} ms  bytes {r.bytes_total:>9,}  slowdown {r.slowdown:.3f}"
    )
chart = plot_comparison(records, workdir / "compare.png", title="1 MiB, 20 pages/s, Sun-3")
print("chart:", chart)

# %% [markdown]
# Copy-on-reference resumes fastest but leaves a residual dependency on the source
# until the process has fetched what it needs; eager copy freezes for the whole
# transfer.

# %%
by_name = {r.strategy: r for r in records}
assert by_name["copy-on-reference"].latency_s < by_name["eager"].latency_s / 10
assert by_name["copy-on-reference"].residual_s > 0 == by_name["eager"].residual_s

# %% [markdown]
# ## 3. A sweep with replications
#
# A sweep is a TOML file (or the same dict): every list is an axis, `replications`
# repeats each point with seeds spawned from one root, the same for every strategy.
# On the command line: `rhodos sweep examples/sweep-small.toml`; with
# `--scheduler tcp://host:8786` the same runs go to a Dask cluster. The runs go to a
# pool of worker processes, one per core; no `if __name__ == "__main__":` guard is
# needed. A sweep never overwrites a folder that holds results (`resume=True` finishes
# one), so the tutorial clears its own before it starts.

# %%
config = SweepConfig.from_dict(
    {
        "sweep": {
            "name": "tutorial",
            "seed": 7,
            "replications": 2,
            "strategy": ["eager", "copy-on-reference"],
            "memory_bytes": ["128KiB", "512KiB"],
            "profile": "sun3-ethernet",
            "cpu_seconds": 1.0,
            "migrate_at": 0.3,
        }
    }
)
shutil.rmtree(workdir / "sweep", ignore_errors=True)
result = run_sweep(config, workdir / "sweep")
print(f"{result.ran} runs; files: {[p.name for p in result.files]}")

# %% [markdown]
# ## 4. Plot the sweep
#
# `plot_sweep` (or `rhodos plot DIR`) draws each metric against each axis, one line per
# strategy, with 95% confidence-interval bars.

# %%
figures = plot_sweep(workdir / "sweep")
print("figures:", [p.name for p in figures])
assert figures
