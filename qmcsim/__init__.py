"""qmcsim: a heterogeneous memory simulator for small-language-model inference on edge devices."""

__version__ = "0.1.0"
