"""The ``rhodos sweep`` and ``rhodos plot`` commands (registered on :data:`rhodos.cli.app`)."""
