"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse


def add_set_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override any config field, e.g. --set systems.qmc-3bit.format.rho=0.4 "
                        "or --set workload.generate_tokens=64 (repeatable)")
