"""``python -m edgekit`` runs the CLI."""

from .cli import main

if __name__ == "__main__":  # not when a spawned helper process re-imports the main module (edgekit tune)
    main()
