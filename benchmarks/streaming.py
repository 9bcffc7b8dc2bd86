"""Image folders too big for memory: a folder stored on disk and read by batch
(``data.in_memory: false``, what ``auto`` picks for it) against the same folder held in
memory, run side by side.

* **Memory.** A seeded folder of ``--images`` JPEGs (default 30,000 at 128x128 RGB: 5.9 GB
  as float32, 1.5 GB as uint8) and a 3-trial search over it (one small fixed CNN, 1 epoch),
  once stored and once in memory: the peak resident memory of all cnntune processes (the
  study, its trial workers; sampled every 0.2 s from /proc), wall time, and the ratio.
* **Speed.** On a folder that fits in memory (``--fit-images``, default 6,000 at 64x64), one
  trial of 4 epochs per mode, each in a fresh process, twice, alternating: the median time
  of epochs 2-4 (epoch 1 holds tracing), and the ratio stored / in memory.

    .venv/bin/python benchmarks/streaming.py [--images 30000] [--size 128] [--work DIR]

The folders are written once under --work (default /tmp/cnntune-streaming) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from rss import peak_rss  # noqa: E402

CNNTUNE = [sys.executable, "-m", "cnntune"]
PARAMS = {"n_blocks": 2, "filters": 16, "filters_growth": 2.0, "kernel_size": 3,
          "pooling": "max", "batch_norm": True, "dense_units": 0, "batch_size": 64,
          "learning_rate": 2e-3, "optimizer": "adam"}


def make_folder(root: Path, n: int, size: int) -> Path:
    """``n`` JPEGs (quality 90) of the benchmark's shapes, one sub-folder per class."""
    done = root / ".complete"
    if done.exists() and done.read_text() == f"{n} {size}":
        return root
    sys.path.insert(0, str(HERE))
    from datasets import make_shapes
    from PIL import Image

    t0 = time.perf_counter()
    chunk = 1000
    for start in range(0, n, chunk):
        x, y = make_shapes(min(chunk, n - start), size=size, seed=start)
        for i, (img, label) in enumerate(zip(x, y)):
            d = root / f"shape{label}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{start + i:06d}.jpg", quality=90)
    done.write_text(f"{n} {size}")
    print(f"wrote {n} images {size}x{size} to {root} in {time.perf_counter() - t0:.0f} s",
          flush=True)
    return root


def search(folder: Path, in_memory: str, work: Path) -> dict:
    """A 3-trial search over ``folder``; its peak tree RSS (MB) and wall time (s)."""
    import yaml

    run = Path(tempfile.mkdtemp(prefix=f"search-{in_memory}-", dir=work))
    space = {"name": "streaming", "data": {"in_memory": in_memory},
             "training": {"epochs": 1, "patience": 1},
             "search": {"algorithm": "random", "pruner": "none", "trials": 3},
             "start_from": [],  # the fixed small CNN only, not the known-good warm starts
             "params": {**PARAMS, "dropout": {"type": "float", "low": 0.0, "high": 0.3}}}
    (run / "space.yaml").write_text(yaml.safe_dump(space))
    cmd = CNNTUNE + ["search", "--space", str(run / "space.yaml"), "--data", str(folder),
                     "--storage", f"journal:{run}/optuna.journal",
                     "--tracking-uri", f"sqlite:///{run}/mlflow.db", "--quiet"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CNNTUNE_CACHE": str(work / "cache")}
    peak, wall, code, out = peak_rss(cmd, run, env)
    if code != 0:
        raise SystemExit(f"search ({in_memory}) failed:\n{out}")
    return {"in_memory": in_memory, "peak_rss_mb": peak, "wall_s": wall}


def epoch_times(folder: str, in_memory: str) -> list[float]:
    """(in a fresh process) One 4-epoch trial; the seconds of each epoch."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from cnntune.data import load_dataset
    from cnntune.worker.trial import TrialSettings, run_trial

    data = load_dataset(None, folder, val_fraction=0.15, test_fraction=0.2, seed=0,
                        in_memory=in_memory)
    assert data.streamed == (in_memory == "false")
    stamps = [time.perf_counter()]
    res = run_trial(PARAMS, data, TrialSettings(epochs=4, patience=4, seed=0,
                                                objective="val_accuracy"),
                    on_epoch=lambda e, logs: stamps.append(time.perf_counter()))
    assert res.state == "COMPLETE", res.error
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=30000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--fit-images", type=int, default=6000)
    ap.add_argument("--fit-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/cnntune-streaming"))
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--epoch-times", nargs=2, metavar=("FOLDER", "IN_MEMORY"),
                    help=argparse.SUPPRESS)  # the child process of the speed part
    args = ap.parse_args()
    if args.epoch_times:
        print(json.dumps(epoch_times(*args.epoch_times)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"memory available: {_available_gb():.1f} GB", flush=True)

    if not args.skip_speed:
        speed(args)
    rows = []
    if not args.skip_memory:
        big = make_folder(args.work / f"big-{args.images}-{args.size}", args.images, args.size)
        for mode in ("false", "true"):
            rows.append(search(big, mode, args.work))
            print(f"  search, in_memory {mode}: peak {rows[-1]['peak_rss_mb']:.0f} MB, "
                  f"{rows[-1]['wall_s']:.0f} s", flush=True)

    if rows:
        stored, memory = rows
        print(f"Memory: {args.images} images {args.size}x{args.size} JPEG, 3-trial search")
        print(f"  stored peak RSS {stored['peak_rss_mb']:.0f} MB ({stored['wall_s']:.0f} s), "
              f"in memory {memory['peak_rss_mb']:.0f} MB ({memory['wall_s']:.0f} s), ratio "
              f"{stored['peak_rss_mb'] / memory['peak_rss_mb']:.2f}x")


def speed(args) -> None:
    """The speed part: epoch times on a folder that fits, stored against in memory."""
    fit = make_folder(args.work / f"fit-{args.fit_images}-{args.fit_size}", args.fit_images,
                      args.fit_size)
    times: dict[str, list[float]] = {"false": [], "true": []}
    env = {**os.environ, "CNNTUNE_CACHE": str(args.work / "cache")}
    for r in range(args.repeats):
        for mode in (("false", "true") if r % 2 == 0 else ("true", "false")):
            run = subprocess.run([sys.executable, __file__, "--epoch-times", str(fit), mode],
                                 capture_output=True, text=True, env=env)
            if run.returncode:
                raise SystemExit(f"the trial (in_memory {mode}) failed:\n{run.stderr}")
            epochs = json.loads(run.stdout.strip().splitlines()[-1])
            times[mode] += epochs[1:]
            print(f"  speed, in_memory {mode}: epochs {' '.join(f'{t:.2f}' for t in epochs)} s",
                  flush=True)
    med = {m: statistics.median(v) for m, v in times.items()}
    print(f"Speed: {args.fit_images} images {args.fit_size}x{args.fit_size}, median epoch "
          f"(epochs 2-4, {args.repeats} runs each): stored {med['false']:.2f} s, in memory "
          f"{med['true']:.2f} s, ratio {med['false'] / med['true']:.2f}x", flush=True)


def _available_gb() -> float:
    from cnntune.data.store import available_bytes

    return available_bytes() / 1e9


if __name__ == "__main__":
    main()
