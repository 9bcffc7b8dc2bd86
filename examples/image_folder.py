"""Search on an image folder (one sub-folder per class).

Writes a small folder of real digit images (from scikit-learn's digits, upscaled to 16x16 PNGs)
and searches it with the default space: the same thing you would do with your own images.

    python examples/image_folder.py
"""

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

import cnntune

root = Path("example_images")
digits = load_digits()
for i, (img, label) in enumerate(zip(digits.images, digits.target)):
    d = root / f"digit_{label}"
    d.mkdir(parents=True, exist_ok=True)
    png = Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((16, 16), Image.BILINEAR)
    png.save(d / f"{i:04d}.png")

result = cnntune.search("default", data=root, trials=5, epochs=10)
print(f"study {result.study}: best val {result.best.value:.4f}, "
      f"test {result.best.metrics['test_accuracy']:.4f}")
