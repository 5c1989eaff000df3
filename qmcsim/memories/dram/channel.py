"""One channel's controller built from a preset: its standard's constraints, values, refresh.

The one place that turns DramParams into a ChannelController (the engine's memory, fast mode's
calibration, trace replay, the benchmark and the tests all come through here)."""

from __future__ import annotations

from qmcsim.errors import InternalError
from qmcsim.memories.dram.controller import ChannelController, CompiledTiming
from qmcsim.memories.dram.params import DramParams, timing_cycles


def compiled_timing(params: DramParams) -> CompiledTiming:
    return CompiledTiming.build(params.spec.resolved, timing_cycles(params),
                                params.org.organisation())


def refresh_args(params: DramParams, refresh: str | None = None) -> dict[str, object]:
    """Controller refresh arguments of a refresh mode of the preset's standard ("off": none)."""
    mode = params.controller.refresh if refresh is None else refresh
    if mode == "off":
        return {"refresh": "off"}
    std = params.spec
    if mode not in std.refresh:
        raise InternalError(f"refresh {mode!r} is not a refresh mode of {std.name} "
                            f"({sorted(std.refresh)})")
    org = params.org.organisation()
    interval = timing_cycles(params)[std.refresh[mode].interval]
    if not std.is_partial(mode):
        return {"refresh": "all_bank", "refresh_interval": interval}
    return {"refresh": mode, "refresh_groups": std.refresh_groups(mode, org),
            "refresh_interval": interval}


def new_controller(params: DramParams, *, refresh: str | None = None,
                   log: list[tuple[int, int, int, int]] | None = None,
                   impl: type[ChannelController] = ChannelController,
                   timing: CompiledTiming | None = None,
                   **overrides: object) -> ChannelController:
    """A controller of one channel of `params` (controller section; `overrides` win).
    `timing`: compiled_timing(params) when the caller builds many controllers of them."""
    cp = params.controller
    args: dict[str, object] = {
        "read_queue_size": cp.read_queue_size, "write_queue_size": cp.write_queue_size,
        "write_high_watermark": cp.write_high_watermark,
        "write_low_watermark": cp.write_low_watermark, "page_policy": cp.page_policy}
    args.update(refresh_args(params, refresh))
    args.update(overrides)
    if timing is None:
        timing = compiled_timing(params)
    return impl(timing, log=log, **args)  # type: ignore[arg-type]
