"""The ``rhodos reproduce`` and ``rhodos map`` commands (registered on :data:`rhodos.cli.app`)."""
