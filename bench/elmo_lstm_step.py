"""ELMo's biLSTM layer: eager time step vs the same step under torch.compile.

Times the real `ElmoBiLstmLayer` (forward + backward of one layer, both directions, packed length-sorted
batch as in training) with its time step `modeling_elmo.lstm_step` run eagerly and then swapped for
`torch.compile(lstm_step, dynamic=True)`; the systems alternate, and the medians and their ratio are printed
(ratio > 1: the compiled step is faster). The compiled outputs and gradients are checked against eager's first.
The first compiled call (compilation) is timed separately and not in the medians.

Example:
    python bench/elmo_lstm_step.py --preset tiny --batch-size 32 --threads 1
    python bench/elmo_lstm_step.py --preset small --batch-size 256 --device cuda
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

from hf_embeddings.models.elmo import ElmoConfig, modeling_elmo  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    p.add_argument("--min-length", type=int, default=5, help="sentence lengths are uniform in [min, max)")
    p.add_argument("--max-length", type=int, default=40)
    p.add_argument("--repeats", type=int, default=15, help="timed runs per system and round")
    p.add_argument("--rounds", type=int, default=3, help="eager / compiled alternations")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
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
    layer = modeling_elmo.ElmoBiLstmLayer(P, C, P).to(dev)
    for w in layer.parameters():
        torch.nn.init.normal_(w, std=0.1)
    x = torch.randn(2, sum(lengths), P, device=dev, requires_grad=True)
    eager_step = modeling_elmo.lstm_step
    compiled_step = torch.compile(eager_step, dynamic=True)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def run(step) -> tuple[float, torch.Tensor, list[torch.Tensor]]:
        modeling_elmo.lstm_step = step
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
            modeling_elmo.lstm_step = eager_step

    run(eager_step)  # warm-up
    _, ref_out, ref_grads = run(eager_step)
    compile_seconds, out, grads = run(compiled_step)
    tol = 1e-4 if dev.type == "cpu" else 1e-3
    out_diff = float((out - ref_out).abs().max())
    grad_diff = max(
        float((g - r).abs().max() / r.abs().max().clamp_min(1e-12)) for g, r in zip(grads, ref_grads)
    )
    if out_diff > tol or grad_diff > tol:
        raise SystemExit(
            f"compiled step differs from eager: outputs {out_diff:.2e}, gradients (relative) {grad_diff:.2e}"
        )
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(args.rounds):
        for name, step in (("eager", eager_step), ("compiled", compiled_step)):
            times[name] += [run(step)[0] for _ in range(args.repeats)]
    med = {k: statistics.median(v) for k, v in times.items()}
    hw = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{hw}; {args.preset} preset (P {P}, C {C}), batch {args.batch_size}, {len(batch_sizes)} time steps, "
          f"{sum(lengths)} tokens per direction")  # fmt: skip
    print(f"  first compiled call (compilation): {compile_seconds:.1f} s; max difference outputs {out_diff:.1e}, "
          f"gradients (relative) {grad_diff:.1e}")  # fmt: skip
    for name in times:
        print(f"  {name:9s} forward + backward of one layer: median {med[name] * 1e3:.2f} ms "
              f"({len(times[name])} runs)")  # fmt: skip
    print(f"  eager / compiled time: {med['eager'] / med['compiled']:.2f}x")
    print(json.dumps({"hardware": hw, "preset": args.preset, "batch_size": args.batch_size,
                      "steps": len(batch_sizes), "compile_seconds": compile_seconds,
                      "median_seconds": med, "speedup": med["eager"] / med["compiled"]}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
