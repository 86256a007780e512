"""The ``rhodos`` command line.

:mod:`rhodos.cli.application` holds the typer app and what every command shares; each
command group registers its commands on it from a module of its own, imported here in
the order ``rhodos --help`` lists them.
"""

# isort: off
from rhodos.cli import profiles  # noqa: F401  (each module registers its commands)
from rhodos.cli import runs  # noqa: F401
from rhodos.cli import migrate  # noqa: F401
from rhodos.cli import reproduce  # noqa: F401
from rhodos.cli import calibrate  # noqa: F401
from rhodos.cli import strategymap  # noqa: F401
from rhodos.cli import sweep  # noqa: F401
from rhodos.cli import trace  # noqa: F401
from rhodos.cli import loadshare  # noqa: F401
from rhodos.cli import faults  # noqa: F401

# isort: on
from rhodos.cli.application import app, main

__all__ = ["app", "main"]
