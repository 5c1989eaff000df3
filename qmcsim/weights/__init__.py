"""Model weights for the formats: real (GGUF, safetensors) or synthetic heavy-tailed, per tensor.

`open_weights(spec, model, seed)` gives a `WeightSource`; `source.get(tensor)` returns the
(rows, cols) float32 matrix of a model tensor, or None if the file does not hold it (the
format then falls back to its analytic layout).
"""
