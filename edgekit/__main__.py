"""``python -m edgekit`` runs the CLI."""

from .cli import main

main()
