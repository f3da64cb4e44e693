"""Command line: ``python -m digitlib train|evaluate|read|photo-digits|train-ink|train-lines``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .checkpoint import CheckpointError
from .data import DATA_ENV_VAR, DataUnavailableError
from .formatting import accuracy
from .model import ARCHITECTURES
from .presets import FINETUNE, PRESETS, finetune_recipe, preset, recipe
from .training import AUGMENTATIONS


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help=f"MNIST folder (default: ${DATA_ENV_VAR} or a per-user cache)")
    p.add_argument("--no-download", action="store_true", help="never download MNIST; fail if it is missing")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on MNIST")
    # argparse %-formats help strings: the titles' "99 %" must be written "99 %%".
    titles = ", ".join(f"{p.name} ({p.title.split(': ')[-1]})".replace("%", "%%") for p in PRESETS.values())
    t.add_argument("--preset", help="a named recipe: " + titles
                   + "; finetune (with --init-from). Default: quick, or the --arch's recipe")
    t.add_argument("--arch", choices=sorted(ARCHITECTURES),
                   help="without --preset: that architecture's recipe (quicknet: quick, digitnet: shipped, "
                        "seednet: article)")
    t.add_argument("--epochs", type=int, help="default: the preset's")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float, help="peak learning rate")
    t.add_argument("--optimizer", choices=["sgd", "adamw"])
    t.add_argument("--augment", choices=AUGMENTATIONS, help="photo: rotate, slant, thicken, blur; shift: "
                                                            "whole-pixel shifts; none")
    t.add_argument("--no-augment", action="store_const", const="none", dest="augment", help="same as --augment none")
    t.add_argument("--seed", type=int)
    t.add_argument("--validation", type=int, metavar="N",
                   help="test on the last N training images instead of the test set (to choose settings)")
    t.add_argument("--limit", type=int, metavar="N", help="train on the first N training images only")
    t.add_argument("--out", help="checkpoint file, written each epoch and on stop "
                                 "(default: the --resume file, else runs/model.pt)")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue an unfinished run")
    t.add_argument("--init-from", metavar="CHECKPOINT", help="start from these weights (fine-tuning)")
    t.add_argument("--extra-data", metavar="FOLDER",
                   help="mix your own digits into MNIST, oversampled: a personal set exported from the app's "
                        "My digits page (unzipped) or subfolders 0/ to 9/ of 28x28 images; one digit in five "
                        "is held out and tested each epoch. With --init-from, the defaults become the "
                        "finetune preset (2 epochs, lr 0.003, the first 10,000 MNIST images)")
    t.add_argument("--extra-share", type=float, metavar="X",
                   help="share of each epoch made of the extra digits (default 0.2)")
    t.add_argument("--not-digits", type=float, metavar="X",
                   help="share of each epoch made of pieces that are not one digit (touching pairs, "
                        "fragments), taught as an eleventh output; 0 for ten outputs "
                        "(default: 0.2 in the shipped preset, 0 in the others)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    _add_data_args(t)

    e = sub.add_parser("evaluate", help="test accuracy, per-class accuracy and confusion matrix")
    e.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    _add_data_args(e)

    d = sub.add_parser("photo-digits", help="digits cut from synthetic photos by the pipeline, to train on (--extra-data)")
    d.add_argument("--out", required=True, metavar="FOLDER", help="a digit set (index.json + images/), made or added to")
    d.add_argument("--pages", type=int, default=3600, help="photos to render and read (about 5 digits each)")
    d.add_argument("--seed", type=int, default=None, help="default: digitlib.synth.PHOTO_DIGITS_SEED")
    d.add_argument("--model", default=None, help="checkpoint that reads the photos (default: the shipped model)")
    _add_data_args(d)

    k = sub.add_parser("train-ink", help="train the learned ink stage on synthetic scenes (seeded, reproducible)")
    k.add_argument("--out", default="runs/ink_net.pt", help="weights file (default runs/ink_net.pt; "
                                                            "the shipped one is digitlib/weights/ink_net.pt)")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--pages", type=int, help="training scenes to render (default 16000)")
    k.add_argument("--steps", type=int, help="training steps (default 5500)")
    k.add_argument("--batch-size", type=int, help="scenes per step (default 16)")
    k.add_argument("--lr", type=float, help="peak learning rate (default 0.003)")
    k.add_argument("--val-pages", type=int, help="validation scenes (default 256)")
    k.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    k.add_argument("--init-from", metavar="WEIGHTS", help="go on training these weights (a second round; give "
                                                          "another --seed so that the scenes are new)")
    _add_data_args(k)

    q = sub.add_parser("train-lines", help="train the sequence reader (CTC) on synthetic rows (seeded, reproducible)")
    q.add_argument("--out", default="runs/line_net.pt", help="weights file (default runs/line_net.pt; "
                                                             "the shipped one is digitlib/weights/line_net.pt)")
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--steps", type=int, help="training steps (default 7000)")
    q.add_argument("--batch-size", type=int, help="rows per step (default 48)")
    q.add_argument("--lr", type=float, help="peak learning rate (default 0.002)")
    q.add_argument("--val-rows", type=int, help="rows that report progress (default 500)")
    q.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    q.add_argument("--init-from", metavar="WEIGHTS", help="go on training these weights (a second round; give "
                                                          "another --seed so that the rows are new)")
    _add_data_args(q)

    r = sub.add_parser("read", help="read the number in images, folders (recursively) and globs")
    r.add_argument("images", nargs="+", metavar="PATH", help="image files, folders or glob patterns")
    r.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    r.add_argument("--verbose", "-v", action="store_true", help="print each digit with its confidence")
    r.add_argument("--out", default=None, metavar="FILE",
                   help="write a row per file to FILE (.csv, else JSON Lines) instead of printing; "
                        "run again with the same FILE to read only the files it has no row for")
    r.add_argument("--workers", type=int, default=0,
                   help="with --out: processes reading at once, one model each (default: every core); "
                        "with --engine ray: actors, one model each (default: one per CPU of the cluster)")
    r.add_argument("--engine", choices=["processes", "ray"], default="processes",
                   help="with --out: processes on this machine (default), or Ray Data on a Ray cluster "
                        "(needs digitlib[ray]; --out is then a folder or URI of Parquet files if it ends in "
                        ".parquet, else of JSON Lines files; PATH may be a URI such as s3://bucket/scans/)")
    r.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="with --engine ray: the cluster to join, as ray.init(address=...) takes it, e.g. "
                        "ray://head:10001 or auto (default: $RAY_ADDRESS, else Ray on this machine, started if need be)")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .training import EpochEvent, train

    cfg = train_config(args)
    cfg.data_dir, cfg.download, cfg.device = args.data, not args.no_download, args.device

    # Ctrl-C asks the loop to stop after the current step; it then saves a resumable checkpoint.
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    bar = None

    def on_event(event) -> None:
        nonlocal bar
        if isinstance(event, EpochEvent):
            bar.close()
            bar = None
            mine = f"  your digits (held out) {event.extra_accuracy:.2%}" if event.extra_accuracy is not None else ""
            if event.not_digit_accuracy is not None:
                mine += f"  not-digits found {event.not_digit_accuracy:.2%}"
            print(
                f"epoch {event.epoch}: train loss {event.train_loss:.4f}  test loss {event.test_loss:.4f}  "
                f"test accuracy {event.test_accuracy:.2%}{mine}  ({event.elapsed_s:.0f} s)",
                flush=True,
            )
            return
        if bar is None:
            bar = tqdm(total=event.steps_per_epoch, desc=f"epoch {event.epoch}", unit="step", leave=False,
                       initial=event.epoch_step - min(event.epoch_step, cfg.log_every))
        bar.update(event.epoch_step - bar.n)
        bar.set_postfix(loss=f"{event.train_loss:.3f}", lr=f"{event.lr:.4f}", img_s=f"{event.images_per_s:.0f}")

    out = args.out or args.resume or "runs/model.pt"
    result = train(cfg, out, on_event=on_event, stop=stop, resume=args.resume, init_from=args.init_from)
    if bar is not None:
        bar.close()
    if result.stopped:
        print(f"stopped at step {result.step}; resume with: python -m digitlib train --resume {result.checkpoint}")
    else:
        acc = accuracy(result.test_accuracy)
        print(f"done: {result.epochs_done} epochs, test accuracy {acc}, saved {result.checkpoint}")
        if cfg.extra_data and args.init_from and not args.resume:
            print_before_after(args.init_from, result.checkpoint, cfg)
    return 0


def train_config(args: argparse.Namespace):
    """The run's TrainConfig: the chosen preset, then any setting given on the command line."""
    if args.preset == FINETUNE or (args.extra_data and args.init_from and not args.preset):
        if not args.init_from:
            raise ValueError("the finetune preset needs --init-from MODEL, the model to fine-tune")
        from .checkpoint import load_checkpoint

        cfg = finetune_recipe(args.arch or load_checkpoint(args.init_from)["arch"])
    elif args.preset:
        cfg = preset(args.preset)
        cfg.arch = args.arch or cfg.arch  # the preset's settings on another network
    else:
        cfg = recipe(args.arch or "quicknet")
    cfg.extra_data = args.extra_data
    for name in ("epochs", "batch_size", "lr", "optimizer", "augment", "seed", "limit", "validation",
                 "extra_share", "not_digits"):
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    return cfg


def print_before_after(before: str, after, cfg) -> None:
    """MNIST test and held-out accuracy of the starting model and of the fine-tuned one."""
    from .evaluation import compare_models

    c = compare_models(before, after, cfg.extra_data, cfg.data_dir, cfg.test_limit, cfg.download)

    print(f"MNIST test ({c.n_mnist} images): {accuracy(c.mnist_before)} before, {accuracy(c.mnist_after)} after")
    print(f"your digits, held out ({c.n_personal}): {accuracy(c.personal_before)} before, {accuracy(c.personal_after)} after")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_checkpoint

    report = evaluate_checkpoint(args.model, args.data, download=not args.no_download)
    print(f"model: {report.path} ({report.arch})")
    print(f"test accuracy: {report.accuracy:.2%} ({round(report.accuracy * report.n_test)}/{report.n_test}), "
          f"test loss {report.test_loss:.4f}")
    print("per-class accuracy: " + "  ".join(f"{d}: {a:.2%}" for d, a in enumerate(report.per_class)))
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(report.confusion):
        print(f"{d:>6}" + "".join(f"{v:>6}" for v in row))
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    from .batch import image_paths
    from .recognizer import Recognizer

    if args.engine == "ray":
        return read_on_ray(args)
    paths = image_paths(args.images)
    if args.out:
        return read_to_file(paths, args)
    recognizer = Recognizer(args.model)
    status = 0
    for path in paths:
        try:
            reading = recognizer.read(path)
        except ValueError as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}\t{reading.text or '-'}\t{reading.confidence:.2f}")
        if args.verbose:
            for i, d in enumerate(reading.digits, 1):
                top = ", ".join(f"{lab}:{p:.2f}" for lab, p in d.top3)
                print(f"  digit {i}: {d.label} ({d.confidence:.2f})  box {d.box}  top-3 {top}")
        for w in reading.warnings:
            print(f"  note: {w}")
    return status


def _summary(report, out: str) -> int:
    """Print how a batch read went (``batch_rows.BatchReport``); the exit status: 1 if a file failed."""
    print(f"{report.read} files read into {out} ({report.failed} could not be read), {report.skipped} already there")
    return 1 if report.failed else 0


def read_to_file(paths: list[str], args: argparse.Namespace) -> int:
    """``read --out``: every file a row in the output, with a progress bar; Ctrl-C keeps what is done."""
    from tqdm import tqdm

    from .batch import read_many

    if args.workers < 0:
        raise ValueError(f"--workers must be 0 (every core) or more, not {args.workers}")

    def bar(rows, total):
        return tqdm(rows, total=total, desc="reading", unit="file", file=sys.stderr)

    try:
        report = read_many(paths, args.out, args.workers, args.model, progress=bar)
    except KeyboardInterrupt:
        print(f"stopped: the rows finished so far are in {args.out}; run the same command again to read the rest",
              file=sys.stderr)
        return 130
    return _summary(report, args.out)


def read_on_ray(args: argparse.Namespace) -> int:
    """``read --engine ray``: the job on Ray Data (``digitlib.batch_ray``), a summary when done."""
    from .batch_ray import RayUnavailableError, import_ray, read_with_ray

    if not args.out:
        raise ValueError("--engine ray writes its rows to files: give --out FOLDER (.parquet, else JSON Lines)")
    if args.workers < 0:
        raise ValueError(f"--workers must be 0 (one actor per CPU) or more, not {args.workers}")
    try:
        import_ray()
        print(f"reading on Ray into {args.out} ...", file=sys.stderr, flush=True)
        report = read_with_ray(args.images, args.out, model=args.model, actors=args.workers or None,
                               address=args.ray_address)
    except RayUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a part file cut short may be left: not every file's row is safe to trust
        print(f"stopped: the part files Ray finished are in {args.out}; one it was writing may be cut short",
              file=sys.stderr)
        return 130
    return _summary(report, args.out)


def cmd_photo_digits(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .personal import PersonalSet
    from .recognizer import Recognizer
    from .synth import PHOTO_DIGITS_SEED, photo_digits

    if args.pages < 1:
        raise ValueError(f"--pages must be at least 1, not {args.pages}")
    recognizer = Recognizer(args.model)
    bar = tqdm(total=args.pages, desc="pages", unit="page")

    def read(image):
        bar.update(1)
        return recognizer.read(image)

    seed = PHOTO_DIGITS_SEED if args.seed is None else args.seed
    items = list(photo_digits(read, args.pages, seed, root=args.data, download=not args.no_download))
    bar.close()
    report = PersonalSet(args.out).add_many(items, source=f"synthetic photos, seed {seed}")
    print(f"{len(items)} digits from {args.pages} pages; {report.added} new in {args.out}")
    print(f"fine-tune on them: python -m digitlib train --init-from MODEL --extra-data {args.out}")
    return 0


def _given(cfg, args: argparse.Namespace, names: tuple[str, ...]):
    """``cfg`` with each of ``names`` set from ``args`` where the option was given (not None)."""
    for name in names:
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    return cfg


def cmd_train_ink(args: argparse.Namespace) -> int:
    from .ink_training import InkTrainConfig, train_ink

    cfg = _given(InkTrainConfig(seed=args.seed), args,
                 ("pages", "steps", "batch_size", "lr", "val_pages", "threads", "init_from"))
    result = train_ink(cfg, args.out, data_dir=args.data, download=not args.no_download,
                       log=lambda line: print(line, flush=True))
    print(f"done: {result.params} parameters, {result.seconds:.0f} s, validation IoU {result.validation.iou:.3f}, "
          f"saved {result.path}")
    return 0


def cmd_train_lines(args: argparse.Namespace) -> int:
    from .line_training import LineTrainConfig, train_lines

    cfg = _given(LineTrainConfig(seed=args.seed), args, ("steps", "batch_size", "lr", "val_rows", "threads", "init_from"))
    result = train_lines(cfg, args.out, data_dir=args.data, download=not args.no_download,
                         log=lambda line: print(line, flush=True))
    print(f"done: {result.params} parameters, {result.seconds:.0f} s, validation {result.val_exact:.1%} exact rows, "
          f"saved {result.path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "read": cmd_read, "photo-digits": cmd_photo_digits,
                "train-ink": cmd_train_ink, "train-lines": cmd_train_lines}
    try:
        return commands[args.command](args)
    except (DataUnavailableError, CheckpointError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
