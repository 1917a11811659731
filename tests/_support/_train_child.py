"""A training run in its own process, for the kill/resume and multi-process tests.

    python _train_child.py SPEC.json

SPEC: family, corpus, output_dir, config, training, checkpoint_dir, resume, kill_at_step (SIGKILL itself
at the end of that step: a crash with no chance to clean up), overwrite, replica_sync.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from transformers import TrainerCallback

from hf_embeddings.api import train


class KillAtStep(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
    callbacks = [KillAtStep(spec["kill_at_step"])] if spec.get("kill_at_step") else []
    result = train(
        spec["family"],
        spec["corpus"],
        spec["output_dir"],
        config=spec.get("config"),
        training=spec.get("training"),
        checkpoint_dir=spec.get("checkpoint_dir"),
        resume_from_checkpoint=spec.get("resume"),
        callbacks=callbacks,
        show_progress=False,
        overwrite=spec.get("overwrite", False),
        seed=spec.get("seed", 42),
        device="cpu",
        replica_sync=spec.get("replica_sync", "auto"),
    )
    # one write() of one line: the ranks share torchrun's stdout, and print's text and newline can go out
    # as two writes that another rank's line lands between
    sys.stdout.flush()
    os.write(
        1, (json.dumps({"rank": os.environ.get("RANK", "0"), "vocab": len(result.tokenizer)}) + "\n").encode()
    )


if __name__ == "__main__":
    main()
