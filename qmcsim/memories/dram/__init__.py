"""Command-level DRAM model (any standard: spec.py, standards/): controller, checker, energy, fast
mode, replay."""
from qmcsim.memories.dram.memory import DramMemory  # noqa: F401  (registers kind "dram")
