"""Seconds per Progressive GAN training step (one WGAN-GP critic step and one generator step, batch 32)
at each resolution, on as many CPU threads as the training uses: what sets `phase_images` in
plugins/progan/train.py.

    python bench/progan_steps.py [--channels 64,64,32,16] [--steps 10] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from plugins.progan.progan import RESOLUTIONS, ProgressiveGAN  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="64,64,32,16")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ProgressiveGAN(64, tuple(int(c) for c in args.channels.split(",")))
    seconds = {}
    for stage, side in enumerate(RESOLUTIONS):
        real = torch.randn(32, 1, side, side)
        started = time.perf_counter()
        for _ in range(args.steps):
            model.discriminator_loss(real, torch.randn(32, 64), stage, 0.5).backward()
            model.generator_loss(torch.randn(32, 64), stage, 0.5).backward()
        seconds[f"{side}x{side}"] = round((time.perf_counter() - started) / args.steps, 3)
    print(json.dumps({"channels": args.channels, "batch": 32, "threads": args.threads, "seconds_per_step": seconds}))


if __name__ == "__main__":
    main()
