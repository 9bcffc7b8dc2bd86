"""Search on an image folder (one sub-folder per class).

Writes a small folder of real digit images (from scikit-learn's digits, upscaled to 16x16 PNGs)
and searches it with the default space: the same thing you would do with your own images.

    python examples/image_folder.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

import cnntune


def write_folder(root: Path, n: int | None = None) -> Path:
    """Digits as PNGs, one sub-folder per class (the first ``n``; default all 1,797)."""
    digits = load_digits()
    for i, (img, label) in enumerate(zip(digits.images[:n], digits.target[:n])):
        d = root / f"digit_{label}"
        d.mkdir(parents=True, exist_ok=True)
        png = Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((16, 16),
                                                                        Image.BILINEAR)
        png.save(d / f"{i:04d}.png")
    return root


def main(trials: int = 5, epochs: int = 10, workdir: str | Path = ".", n: int | None = None,
         **search):
    workdir = Path(workdir)
    root = write_folder(workdir / "example_images", n)
    mlruns = workdir / "mlruns"
    result = cnntune.search("default", data=root, trials=trials, epochs=epochs,
                            storage=f"journal:{mlruns}/optuna.journal",
                            tracking_uri=f"sqlite:///{mlruns}/mlflow.db", **search)
    print(f"study {result.study}: best val {result.best.value:.4f}, "
          f"test {result.best.metrics['test_accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main()
