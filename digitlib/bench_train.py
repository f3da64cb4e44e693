"""``python -m digitlib.bench train``: the training presets side by side on this machine.

``article`` and ``quick`` seed by seed and ``best`` once (``digitlib.presets``): test accuracy
after each epoch, training time, time to reach 97.5 % and 99.0 %; then ``quick`` alone and beside
a reading load in the same process, as the app's server trains and reads.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .formatting import accuracy, machine_line

TARGETS = (0.975, 0.99)  # test accuracies whose training time the table reports


@dataclass
class TrainRun:
    preset: str
    seed: int
    epochs: list[tuple[int, float, float]]  # (epoch, test accuracy, training seconds so far)
    wall_s: float  # whole run: data loading, training, test passes, checkpoints
    # CPU time of the whole run, all threads: on a machine shared with other work, CPU s / threads
    # is about what the run would take alone (OpenMP threads sleep when idle, see digitlib/__init__.py).
    cpu_s: float


def time_to_reach(epochs: list[tuple[int, float, float]], target: float) -> tuple[int, float] | None:
    """(epoch, training seconds) of the first epoch whose test accuracy is at least ``target``."""
    for epoch, test_accuracy, seconds in epochs:
        if test_accuracy >= target:
            return epoch, seconds
    return None


def train_tables(runs: list[TrainRun], targets: tuple[float, ...] = TARGETS) -> str:
    """Markdown: one row per run (accuracy after each epoch, seconds, time to each target),
    then the mean of each preset over its seeds."""
    most = max(len(r.epochs) for r in runs)
    reach_heads = [f"{100 * t:.1f} % after" for t in targets]
    lines = ["| preset | seed | " + " | ".join(f"epoch {i + 1}" for i in range(most)) +
             " | training s | wall s | CPU s | " + " | ".join(reach_heads) + " |",
             "|---|---:|" + "---:|" * most + "---:|---:|---:|" + "---|" * len(targets)]
    for run in runs:
        accs = [accuracy(a) for _, a, _ in run.epochs] + [""] * (most - len(run.epochs))
        reach = []
        for target in targets:
            got = time_to_reach(run.epochs, target)
            reach.append(f"{got[1]:.1f} s (epoch {got[0]})" if got else "not reached")
        seconds = run.epochs[-1][2] if run.epochs else 0.0
        lines.append(f"| {run.preset} | {run.seed} | " + " | ".join(accs) +
                     f" | {seconds:.1f} | {run.wall_s:.1f} | {run.cpu_s:.1f} | " + " | ".join(reach) + " |")
    lines += ["", "| preset | runs | final test accuracy (mean, min-max) | training s (mean) | " +
              " | ".join(f"{h} (mean)" for h in reach_heads) + " |", "|---|---:|---|---:|" + "---|" * len(targets)]
    for name in dict.fromkeys(r.preset for r in runs):
        mine = [r for r in runs if r.preset == name and r.epochs]
        finals = [r.epochs[-1][1] for r in mine]
        seconds = float(np.mean([r.epochs[-1][2] for r in mine]))
        reach = []
        for target in targets:
            got = [time_to_reach(r.epochs, target) for r in mine]
            reached = [g[1] for g in got if g]
            reach.append(f"{np.mean(reached):.1f} s ({len(reached)}/{len(mine)} runs)" if reached else "not reached")
        lines.append(f"| {name} | {len(mine)} | {accuracy(float(np.mean(finals)))} ({accuracy(min(finals))}-"
                     f"{accuracy(max(finals))}) | {seconds:.1f} | " + " | ".join(reach) + " |")
    return "\n".join(lines)


def run_preset(name: str, seed: int, args: argparse.Namespace, folder: Path) -> TrainRun:
    """Train one preset with one seed, as the CLI would; print each epoch as it ends."""
    from .presets import preset
    from .training import EpochEvent, train

    cfg = preset(name)
    cfg.seed, cfg.data_dir, cfg.download, cfg.device = seed, args.data, False, "cpu"
    cfg.validation = args.validation
    if args.epochs:
        cfg.epochs = args.epochs
    if args.limit:
        cfg.limit = args.limit
    epochs: list[tuple[int, float, float]] = []

    def on_event(event) -> None:
        if isinstance(event, EpochEvent):
            epochs.append((event.epoch, event.test_accuracy, event.elapsed_s))
            print(f"{name} seed {seed} epoch {event.epoch}: {accuracy(event.test_accuracy)} after {event.elapsed_s:.1f} s",
                  file=sys.stderr, flush=True)

    start, cpu = time.perf_counter(), time.process_time()
    train(cfg, folder / f"{name}-{seed}.pt", on_event=on_event)
    return TrainRun(name, seed, epochs, time.perf_counter() - start, time.process_time() - cpu)


def reading_load(stop: threading.Event, root: str | None) -> None:
    """Read synthetic photos until ``stop``, in this process, as the app's server does for visitors."""
    from .recognizer import Recognizer
    from .synth import make_suite

    recognizer = Recognizer()
    photos = [image for image, _ in make_suite("hard", 20, seed=0, root=root)]
    while not stop.is_set():
        for image in photos:
            recognizer.read(image)
            if stop.is_set():
                return


def bench_train(args: argparse.Namespace) -> int:
    print(f"machine: {machine_line()}\n", flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs: list[TrainRun] = []
    with tempfile.TemporaryDirectory(prefix="digitlib-bench-") as tmp:
        # Seed by seed, the presets one after the other: load on a shared machine hits them alike.
        for seed in seeds:
            for name in [p for p in args.presets.split(",") if p]:
                runs.append(run_preset(name, seed, args, Path(tmp)))
        for name in [p for p in args.once.split(",") if p]:
            runs.append(run_preset(name, seeds[0], args, Path(tmp)))
        if runs:
            print(train_tables(runs))
        if args.load_preset:
            # The app trains in a thread of the server that also reads photos for other visitors.
            alone = run_preset(args.load_preset, seeds[0], args, Path(tmp))
            stop = threading.Event()
            reader = threading.Thread(target=reading_load, args=(stop, args.data), daemon=True)
            reader.start()
            time.sleep(3.0)  # the reader has loaded its model and photos and is busy reading
            beside = run_preset(args.load_preset, seeds[0], args, Path(tmp))
            stop.set()
            reader.join()
            a, b = alone.epochs[-1][2], beside.epochs[-1][2]
            print(f"\n| {args.load_preset}, seed {seeds[0]} | training s | test accuracy |\n|---|---:|---:|")
            print(f"| alone | {a:.1f} | {accuracy(alone.epochs[-1][1])} |")
            print(f"| beside a reading load | {b:.1f} | {accuracy(beside.epochs[-1][1])} |")
            print(f"\nslowdown beside the reading load: {b / a:.2f}x")
    return 0
