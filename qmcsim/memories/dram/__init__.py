"""Command-level LPDDR5 model: spec, controller, checker, energy, fast mode, replay."""
from qmcsim.memories.dram.memory import DramMemory  # noqa: F401  (registers kind "dram")
