"""Data sources -> seeded, stratified train/val/test splits -> a Dataset trials train on.

In the order data flows:
  * ``sources``  - array sources: scikit-learn's digits (1,797 8x8 digits, read offline),
    generated waveforms (the embedded sequence set), ``.npz`` files (``x``/``y``, or the
    splits they bring as ``x_train``/``y_train``, ``x_val``/``y_val``, ``x_test``/``y_test``;
    ``kind: sequence`` for sequences) and CSV sequences (a label column, values time-major).
  * ``images``   - image folders: one sub-folder per class; ``train/`` with ``val/`` (or
    ``validation/``) and/or ``test/`` split folders; or a flat folder with a labels CSV.
    Decoding follows EXIF orientation and takes grayscale, RGB, alpha and 16-bit images;
    unreadable files are skipped and listed.
  * ``splits``   - stratified, seeded splits; a source's own splits are kept, the missing
    ones split from its training part. ``Dataset.meta["splits"]`` says which is which.
  * ``store``    - a folder too big for memory is decoded once into files on disk.
  * ``dataset``  - ``Split`` (in memory) / ``StoredSplit`` (on disk) and ``Dataset``; each
    split makes its own tf.data pipeline.
  * ``load``     - ``load_dataset``, and ``describe``/``load_described`` (a study's data.json).

Loading happens once per study; each trial only builds its pipelines. The test split is kept
apart: the search never sees it, and each trial's final model is scored on it for reference.
"""

from .dataset import Dataset, Split, StoredSplit
from .images import IMAGE_SUFFIXES, decode_images
from .load import describe, load_dataset, load_described
from .sources import make_waveforms
from .splits import SPLIT_NAMES, stratified_split

__all__ = ["Dataset", "Split", "StoredSplit", "IMAGE_SUFFIXES", "decode_images", "describe",
           "load_dataset", "load_described", "make_waveforms", "SPLIT_NAMES",
           "stratified_split"]
