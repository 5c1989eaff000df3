"""Peak memory while writing and then streaming a long trace (default: Llama-3.2-3B, FP16,
prompt 1,024 tokens prefilled in chunks of 512, then 3,072 decode tokens, so the last token
attends over 4,096 tokens of context).

    python benchmarks/trace_rss.py [--model llama-3.2-3b] [--prompt 1024] [--generate 3072]

Prints rows, file size, wall times and the peak resident set size of this process
(resource.getrusage ru_maxrss) after writing and after streaming the file back. Run it from the
repository root so the local qmcsim is imported.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qmcsim.config.schema import WorkloadConfig  # noqa: E402
from qmcsim.formats.fp16 import Fp16Format  # noqa: E402
from qmcsim.models.load import load_model  # noqa: E402
from qmcsim.trace.standalone import standalone_builder  # noqa: E402
from qmcsim.trace.store import read_steps, write_trace  # noqa: E402

ONCHIP_BUFFER_BYTES = 4 * 2**20   # jetson-agx-orin preset: 4 MB L2


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="llama-3.2-3b")
    p.add_argument("--prompt", type=int, default=1024)
    p.add_argument("--generate", type=int, default=3072)
    p.add_argument("--chunk", type=int, default=512)
    p.add_argument("--csv", action="store_true")
    args = p.parse_args()

    model = load_model(args.model, file="benchmark", field_path="--model")
    workload = WorkloadConfig(prompt_tokens=args.prompt, generate_tokens=args.generate,
                              prefill_chunk_tokens=args.chunk)
    builder = standalone_builder(model, workload, Fp16Format(),
                                 onchip_buffer_bytes=ONCHIP_BUFFER_BYTES)
    print(f"model {model.name}, prompt {args.prompt} (chunks of {args.chunk}), generate "
          f"{args.generate}, context at the last token {args.prompt + args.generate}")
    print(f"peak RSS after imports and model: {peak_rss_mb():.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("trace.csv" if args.csv else "trace.parquet")
        t0 = time.perf_counter()
        summary = write_trace(path, builder.steps(), csv_format=args.csv)
        t1 = time.perf_counter()
        print(f"wrote {summary.rows:,} rows / {summary.steps:,} steps, "
              f"{summary.nbytes / 1e6:.1f} MB in {t1 - t0:.1f} s; peak RSS {peak_rss_mb():.0f} MB")
        total = steps = 0
        last_context = 0
        for step in read_steps(path):
            steps += 1
            last_context = step.context
            total += sum(a.nbytes for op in step.ops for a in op.accesses)
        t2 = time.perf_counter()
        print(f"streamed {steps:,} steps ({total / 1e12:.3f} TB of accesses, last context "
              f"{last_context}) in {t2 - t1:.1f} s; peak RSS {peak_rss_mb():.0f} MB")
    peak = peak_rss_mb()
    print(f"PEAK RSS {peak:.0f} MB (limit 1024 MB): {'ok' if peak <= 1024 else 'EXCEEDED'}")
    return 0 if peak <= 1024 else 1


if __name__ == "__main__":
    raise SystemExit(main())
