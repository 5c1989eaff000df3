"""One module per DRAM standard; each builds a `Standard` and registers it (spec.py).

A new standard is one module here plus its presets in hw_configs/devices/ (docs/dram.md)."""
