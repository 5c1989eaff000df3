"""Builds the optional compiled copy of the DRAM controller (qmcsim/memories/dram/controller.py).

Cython compiles the same source file, renamed `_ccontroller` and stamped with the source's
SHA-256 so that controller.py can refuse a stale build. Without Cython or a C compiler the
install still succeeds and qmcsim runs the pure-Python controller (same results, slower).
"""

import hashlib
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

SOURCE = Path("qmcsim/memories/dram/controller.py")
COPY = SOURCE.with_name("_ccontroller.py")


class OptionalBuildExt(build_ext):
    """A failed compile leaves the pure-Python controller in place instead of failing."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means "no extension"
            print(f"qmcsim: compiled DRAM controller not built ({exc}); using pure Python",
                  file=sys.stderr)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"qmcsim: compiled DRAM controller not built ({exc}); using pure Python",
                  file=sys.stderr)


def extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    data = SOURCE.read_bytes()
    stamp = f'\nSOURCE_SHA256 = "{hashlib.sha256(data).hexdigest()}"\n'
    COPY.write_text(data.decode() + stamp)
    try:
        return cythonize([str(COPY)], compiler_directives={"language_level": 3}, quiet=True)
    except Exception as exc:  # noqa: BLE001 - a Cython error means "no extension" too
        print(f"qmcsim: compiled DRAM controller not built ({exc}); using pure Python",
              file=sys.stderr)
        return []
    finally:
        COPY.unlink()  # only the generated C file is compiled; the copy must not be importable


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
