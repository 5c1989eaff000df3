"""Command line. The only place that prints errors and chooses exit codes (2 = bad input).

Subcommands live in qmcsim/commands/, one module each, found automatically: a module defines
NAME, HELP, DESCRIPTION, add_arguments(parser) and run(args) -> exit code, and INTERRUPTED
(what an interrupt leaves behind) where INTERRUPTED_DEFAULT is not true of it.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from qmcsim.errors import QmcsimError

EXIT_BAD_INPUT = 2
INTERRUPTED_DEFAULT = "interrupted; no results written"


def commands() -> dict[str, ModuleType]:
    import qmcsim.commands as pkg

    found = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        found[module.NAME] = module
    return found


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(
        prog="python -m qmcsim",
        description="qmcsim: heterogeneous memory simulator for small-language-model inference "
                    "on edge devices. Run 'python -m qmcsim COMMAND --help' for each command.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    mods = commands()
    for name, module in mods.items():
        p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION)
        module.add_arguments(p)
    return parser, mods


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt   # unwinds through the writers, which remove their temporary files


def main(argv: Sequence[str] | None = None) -> int:
    parser, mods = build_parser()
    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(mods[args.command].run(args))
    except QmcsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:   # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(getattr(mods[args.command], "INTERRUPTED", INTERRUPTED_DEFAULT), file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def entry() -> NoReturn:
    """`python -m qmcsim` and the `qmcsim` script: main(), then exit without tearing the
    interpreter down. Every result is written and closed by then; freeing ~1,700 modules
    and the caches one object at a time took 0.3-0.6 CPU-s after each command (a sweep's
    last serial step). Exit handlers still run; with a non-daemon thread alive, or when
    main raises (e.g. SystemExit from --help), the exit is the normal one."""
    code = main()
    if any(t.is_alive() and not t.daemon and t is not threading.main_thread()
           for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()   # pools, temporary folders, logging
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe or stream: nothing more to say
            pass
    os._exit(code)
