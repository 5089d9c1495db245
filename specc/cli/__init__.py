"""The command-line interface (click). ``main`` is the console entry point; commands load lazily."""

from specc.cli.main import main

__all__ = ["main"]
