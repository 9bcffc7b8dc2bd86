"""Segment images: a U-Net search on your own masks, exported and run on new images.

    python examples/segmentation.py                       # 1,200 scenes, 8 trials, minutes
    python examples/segmentation.py --n 400 --trials 2 --epochs 3   # a quick look

The data: the generated scenes (`cnntune.data.sources.make_scenes`, a different seed from
the embedded set), saved as users bring theirs, an .npz with `x` (images) and `masks` (a class
index per pixel) and `class_names`. The shipped segmentation space is pointed at that file;
the best trial is exported to TFLite (verified against the Keras model pixel by pixel) and
`cnntune predict` writes masks and overlays for a few held-out images into masks/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import cnntune


def main(n: int = 1200, trials: int = 8, epochs: int = 15, workdir: Path = Path("."),
         isolate: bool = True):
    from cnntune.data.sources import make_scenes
    from cnntune.deploy.export import export_study
    from cnntune.deploy.predict import predict_files

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    x, masks, names, _, _ = make_scenes(n=n + 4, seed=7)
    np.savez(workdir / "scenes.npz", x=x[:n], masks=masks[:n], class_names=np.array(names))
    np.savez(workdir / "new.npz", x=x[n:])  # images the search never sees
    text = (Path(__file__).resolve().parent.parent / "search_spaces" /
            "segmentation.yaml").read_text()
    space = workdir / "scenes.yaml"
    space.write_text(text.replace("data: {source: scenes,", "data: {path: scenes.npz,")
                     .replace("name: segmentation", "name: my-scenes"))
    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    result = cnntune.search(space, trials=trials, epochs=epochs, isolate=isolate,
                            storage=f"sqlite:///{workdir}/mlruns/optuna.db", tracking_uri=uri)
    best = result.best
    print(f"best trial {best.number}: test mean IoU {best.metrics['test_mean_iou']:.4f}, "
          f"Dice {best.metrics['test_dice']:.4f}")
    report = export_study(result.study, fmt="tflite", out=workdir / "export",
                          tracking_uri=uri)
    print(f"exported {report.path}: {report.tolerance}, passed {report.passed}")
    table = predict_files(workdir / "export", [workdir / "new.npz"],
                          masks_dir=workdir / "masks")
    print(table.to_string(index=False))
    return result, report, table


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--workdir", type=Path, default=Path("."))
    args = ap.parse_args()
    main(args.n, args.trials, args.epochs, args.workdir)
