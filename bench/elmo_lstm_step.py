"""ELMo's biLSTM layer: three ways to train its time loop, timed on the real `ElmoBiLstmLayer`.

Systems (forward + backward of one layer, both directions, packed length-sorted batch as in training):
  autograd  the `lstm_step` loop under autograd (the CPU default)
  manual    `LstmRecurrence`, the same loop with its backward written out (the default on accelerators)
  compiled  the autograd loop with `torch.compile(lstm_step, dynamic=True)` as its step
Outputs and gradients of each are checked against autograd's first; the systems alternate round by round,
and the medians and their ratios to autograd are printed (> 1: faster than autograd). The first compiled
call (compilation) is timed separately and not in the medians.

Measured (tiny preset, 39 time steps):
    CPU, 1 thread, batch 32 (2026-11-26): compiled 0.77x (and 0.75x in an earlier run) -> not used.
    One H100, batch 256 (2026-11-26, torch 2.11): autograd 38.97 ms, compiled 44.34 ms (0.88x); about 1 ms
    per layer step whatever the batch: bound by the host's per-operation cost, hence `LstmRecurrence`.

Example:
    python bench/elmo_lstm_step.py --preset tiny --batch-size 32 --threads 1
    python bench/elmo_lstm_step.py --preset tiny --batch-size 256 --device cuda --systems autograd,manual,compiled
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_embeddings.models.elmo import ElmoConfig, lstm_elmo  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    p.add_argument("--min-length", type=int, default=5, help="sentence lengths are uniform in [min, max)")
    p.add_argument("--max-length", type=int, default=40)
    p.add_argument("--repeats", type=int, default=15, help="timed runs per system and round")
    p.add_argument("--rounds", type=int, default=3, help="alternations of the systems")
    p.add_argument("--systems", default="autograd,manual", help="comma-separated: autograd, manual, compiled")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-out")
    args = p.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - {"autograd", "manual", "compiled"}
    if unknown or "autograd" not in systems:
        p.error(f"--systems must include autograd and name only autograd, manual, compiled (got {systems})")
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cfg = ElmoConfig.from_preset(args.preset)
    torch.manual_seed(args.seed)
    P, C = cfg.projection_dim, cfg.lstm_dim
    lengths = sorted(
        torch.randint(args.min_length, args.max_length, (args.batch_size,)).tolist(), reverse=True
    )
    batch_sizes = [sum(1 for n in lengths if n > t) for t in range(lengths[0])]
    layer = lstm_elmo.ElmoBiLstmLayer(P, C, P).to(dev)
    for w in layer.parameters():
        torch.nn.init.normal_(w, std=0.1)
    x = torch.randn(2, sum(lengths), P, device=dev, requires_grad=True)
    eager_step = lstm_elmo.lstm_step
    compiled_step = torch.compile(eager_step, dynamic=True) if "compiled" in systems else None

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def run(system: str) -> tuple[float, torch.Tensor, list[torch.Tensor]]:
        layer.manual_backward = system == "manual"
        lstm_elmo.lstm_step = compiled_step if system == "compiled" else eager_step
        try:
            layer.zero_grad(set_to_none=True)
            x.grad = None
            sync()
            t0 = time.perf_counter()
            out = layer(x, batch_sizes, cfg.forget_bias, cfg.cell_clip, cfg.proj_clip)
            out.square().sum().backward()
            sync()
            return time.perf_counter() - t0, out.detach(), [x.grad] + [w.grad for w in layer.parameters()]
        finally:
            lstm_elmo.lstm_step = eager_step
            layer.manual_backward = None

    run("autograd")  # warm-up
    _, ref_out, ref_grads = run("autograd")
    tol = 1e-4 if dev.type == "cpu" else 1e-3
    first: dict[str, float] = {}
    diffs: dict[str, tuple[float, float]] = {}
    for system in systems[1:] if systems[0] == "autograd" else [s for s in systems if s != "autograd"]:
        first[system], out, grads = run(system)
        out_diff = float((out - ref_out).abs().max())
        grad_diff = max(
            float((g - r).abs().max() / r.abs().max().clamp_min(1e-12)) for g, r in zip(grads, ref_grads)
        )
        if out_diff > tol or grad_diff > tol:
            raise SystemExit(f"{system} differs from autograd: outputs {out_diff:.2e}, gradients (relative) "
                             f"{grad_diff:.2e}")  # fmt: skip
        diffs[system] = (out_diff, grad_diff)
    times: dict[str, list[float]] = {s: [] for s in systems}
    for _ in range(args.rounds):
        for system in systems:
            times[system] += [run(system)[0] for _ in range(args.repeats)]
    med = {k: statistics.median(v) for k, v in times.items()}
    hw = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{hw}; torch {torch.__version__}; {args.preset} preset (P {P}, C {C}), batch {args.batch_size}, "
          f"{len(batch_sizes)} time steps, {sum(lengths)} tokens per direction")  # fmt: skip
    for system, (o, g) in diffs.items():
        extra = f"; first call (compilation) {first[system]:.1f} s" if system == "compiled" else ""
        print(f"  {system}: max difference to autograd: outputs {o:.1e}, gradients (relative) {g:.1e}{extra}")
    for system in systems:
        print(f"  {system:9s} forward + backward of one layer: median {med[system] * 1e3:.2f} ms "
              f"({len(times[system])} runs), {med['autograd'] / med[system]:.2f}x autograd's speed")  # fmt: skip
    result = {"hardware": hw, "torch": torch.__version__, "preset": args.preset, "batch_size": args.batch_size,
              "steps": len(batch_sizes), "median_seconds": med,
              "speed_vs_autograd": {s: med["autograd"] / med[s] for s in systems},
              "compile_seconds": first.get("compiled")}  # fmt: skip
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
