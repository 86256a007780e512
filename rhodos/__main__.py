"""``python -m rhodos`` runs the command line."""

from rhodos.cli import main

main()
