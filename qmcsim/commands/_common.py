"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse

RUN_EXAMPLES = "e.g. --set systems.qmc-3bit.format.rho=0.4 or --set workload.generate_tokens=64"


def add_set_argument(p: argparse.ArgumentParser, examples: str = RUN_EXAMPLES) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help=f"override any config field, {examples} (repeatable)")
