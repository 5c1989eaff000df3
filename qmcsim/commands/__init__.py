"""Subcommands of `python -m qmcsim`, one module each (found by qmcsim.cli)."""
