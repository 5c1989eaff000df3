"""Accuracy under device noise: apply a format + placement + noise to a real model's weights
and measure perplexity. Only `model`, `perplexity` and `evaluate` import torch (lazily, from the
`accuracy` command); config, apply and stats are numpy-only."""
