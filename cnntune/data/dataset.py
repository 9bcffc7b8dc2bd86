"""What a trial trains on: a Dataset of three splits, each held in memory (``Split``) or, for
image folders too big for memory, decoded once into files of uint8 rows on disk and read a
batch at a time (``StoredSplit``). Both give the same tf.data pipeline and fingerprint."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from ..errors import DataError
from ..tasks import CLASSIFICATION, Task

HASH_ROWS = 1024  # rows hashed at a time: a stored split is never read whole
# a stored split's training pipeline: rows read in blocks, several blocks at a time, through
# a shuffle buffer of at most this many bytes
BLOCK_ROWS = 256
INTERLEAVE = 4
SHUFFLE_BYTES = 64 * 2**20


@dataclass
class Split:
    """One split in memory: examples ``x`` and integer labels ``y``."""

    x: np.ndarray
    y: np.ndarray
    streamed = False

    def __len__(self) -> int:
        return len(self.y)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def dtype(self) -> str:
        return str(self.x.dtype)

    def images(self, idx=None) -> np.ndarray:
        """The examples (at ``idx``), in memory."""
        return self.x if idx is None else self.x[idx]

    def chunks(self):
        """The examples a few rows at a time, in order (for hashing)."""
        for i in range(0, len(self.x), HASH_ROWS):
            yield self.x[i:i + HASH_ROWS]

    def take(self, idx) -> Split:
        return Split(self.x[idx], self.y[idx])

    def head(self, n: int) -> Split:
        """The first ``n`` examples (a split's order is random: a random part of it)."""
        return Split(self.x[:n], self.y[:n])

    def concat(self, other: Split) -> Split:
        return Split(np.concatenate([self.x, other.images()]),
                     np.concatenate([self.y, other.y]))

    def pipeline(self, batch_size: int, *, training: bool, seed: int,
                 one_hot: int | None = None, augment=None):
        """tf.data over this split: cache, (shuffle), batch, (augment), prefetch. ``one_hot``
        (the number of classes) turns labels into one-hot rows, for losses with label
        smoothing; ``augment`` maps each batch (images, targets) to a changed one (a
        segmentation's paired augmentation)."""
        import tensorflow as tf

        y = self.y if one_hot is None else np.eye(one_hot, dtype="float32")[self.y]
        ds = tf.data.Dataset.from_tensor_slices((self.x, y)).cache()
        if training:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return _finished(_augmented(ds.batch(batch_size), augment))


@dataclass
class StoredSplit:
    """One split's images, decoded once (``store.py``) into files of uint8 rows in split
    order, one file per segment (a split concatenated with another has two). Memory holds the
    labels only; a pipeline reads each batch's rows from the files (the operating system's
    page cache keeps them when it has room), so a folder of any size trains in bounded
    memory."""

    y: np.ndarray
    files: tuple[str, ...]
    counts: tuple[int, ...]
    shape: tuple[int, ...]  # one image: (height, width, channels)
    streamed = True

    def __len__(self) -> int:
        return len(self.y)

    @property
    def dtype(self) -> str:
        return "uint8"

    @property
    def x(self) -> np.ndarray:
        """All the images, read into memory: for small splits and one-off uses (export
        verification, reports); trials read batches (``pipeline``)."""
        return self.images()

    def images(self, idx=None) -> np.ndarray:
        """The images at ``idx`` (all when None), read from the store."""
        idx = np.arange(len(self)) if idx is None else np.asarray(idx, "int64").reshape(-1)
        size = int(np.prod(self.shape))
        starts = np.cumsum([0, *self.counts])
        segment = np.searchsorted(starts, idx, side="right") - 1
        out = np.empty((len(idx), size), "uint8")
        # os.pread: no memory map, so what was read is not held by the process afterwards
        fds = [os.open(f, os.O_RDONLY) for f in self.files]
        try:
            for k, (i, s) in enumerate(zip(idx.tolist(), segment.tolist())):
                data = os.pread(fds[s], size, (i - int(starts[s])) * size)
                if len(data) != size:
                    raise DataError(f"stored images '{self.files[s]}' are cut short (row {i}); "
                                    "delete the folder and load the data again")
                out[k] = np.frombuffer(data, "uint8")
        finally:
            for fd in fds:
                os.close(fd)
        return out.reshape(len(idx), *self.shape)

    def chunks(self):
        size = int(np.prod(self.shape))
        for path, count in zip(self.files, self.counts):
            with open(path, "rb") as f:
                for i in range(0, count, HASH_ROWS):
                    n = min(HASH_ROWS, count - i)
                    yield np.frombuffer(f.read(n * size), "uint8").reshape(n, *self.shape)

    def head(self, n: int) -> StoredSplit:
        """The first ``n`` images (stored in a random order: a random part of the split),
        read from the same files."""
        counts, left = [], n
        for c in self.counts:
            counts.append(min(c, left))
            left -= counts[-1]
        return StoredSplit(self.y[:n], self.files, tuple(counts), self.shape)

    def take(self, idx):
        raise DataError("a folder stored on disk is read in order, not by example: k-fold "
                        "cross-validation (training.folds) needs data.in_memory: true")

    def concat(self, other: StoredSplit) -> StoredSplit:
        if not isinstance(other, StoredSplit) or other.shape != self.shape:
            raise TypeError("a stored split concatenates with a stored split of its shape")
        return StoredSplit(np.concatenate([self.y, other.y]), self.files + other.files,
                           self.counts + other.counts, self.shape)

    def pipeline(self, batch_size: int, *, training: bool, seed: int,
                 one_hot: int | None = None, augment=None):
        """tf.data over this split, read by TensorFlow itself (no Python per batch, which
        would wait on the interpreter lock while the training loop holds it): the rows in
        blocks of ``BLOCK_ROWS``; for training the blocks in a new order each epoch, read
        ``INTERLEAVE`` at a time, through a shuffle buffer of ``SHUFFLE_BYTES`` (the rows are
        stored in the split's own random order, so this mixes them well); then batched and
        prefetched. For evaluation, in order."""
        import tensorflow as tf

        row = int(np.prod(self.shape))
        blocks = [(k, start, min(BLOCK_ROWS, count - start), offset + start)
                  for k, (count, offset) in enumerate(zip(self.counts,
                                                          np.cumsum([0, *self.counts])))
                  for start in range(0, count, BLOCK_ROWS)]
        files = tf.constant(self.files)
        # each file's own size: a split's head (``head``) reads the start of longer files
        sizes = tf.constant([os.path.getsize(f) for f in self.files], tf.int64)
        labels = tf.constant(self.y if one_hot is None
                             else np.eye(one_hot, dtype="float32")[self.y])
        shape = tuple(self.shape)

        def block(k, start, n, first):
            head = start * row
            rows = tf.data.FixedLengthRecordDataset(
                files[k], row, header_bytes=head, footer_bytes=sizes[k] - head - n * row)
            return tf.data.Dataset.zip(rows, tf.data.Dataset.from_tensor_slices(
                labels[first:first + n]))

        def decode(raw, y):  # a batch of records at once
            return tf.reshape(tf.io.decode_raw(raw, tf.uint8), (-1, *shape)), y

        ds = tf.data.Dataset.from_tensor_slices(tuple(np.array(c, "int64")
                                                      for c in zip(*blocks)))
        if training:
            ds = ds.shuffle(len(blocks), seed=seed, reshuffle_each_iteration=True)
            ds = ds.interleave(block, cycle_length=INTERLEAVE)
            ds = ds.shuffle(max(BLOCK_ROWS, min(len(self), SHUFFLE_BYTES // row)), seed=seed,
                            reshuffle_each_iteration=True)
        else:
            ds = ds.flat_map(block)
        # blocks hide the count from tf.data; Keras plans epochs (and schedules) by it
        ds = ds.apply(tf.data.experimental.assert_cardinality(len(self)))
        return _finished(_augmented(ds.batch(batch_size).map(decode), augment))


def _augmented(ds, augment):
    import tensorflow as tf

    return ds if augment is None else ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)


def _finished(ds):
    """Prefetched, with tf.data's autotuning thread off. On TensorFlow 2.21 an iterator's
    destructor waits for that thread, which sleeps up to 60 s between its optimisation rounds
    and is not woken: when fit ended, its (long-lived, repeated) training iterator took 8-37 s
    to be freed, measured in about half the trials of a minute or more (gdb: the main thread
    in ``~RootDataset::Iterator`` -> ``~LogicalThreadWrapper``, the ``tf_data_model`` thread in
    ``Model::OptimizeLoop``). Off, that teardown took 0.01 s in every run, and a check trained
    no slower (benchmarks/deadlines.py --teardown). ``AUTOTUNE`` buffer and parallelism values
    then take tf.data's defaults (the buffer grows on demand; parallelism = cores)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


@dataclass
class Dataset:
    name: str
    train: Split | StoredSplit
    val: Split | StoredSplit
    test: Split | StoredSplit
    class_names: list[str]
    scale: float  # multiply raw pixel values by this to get [0, 1] (images)
    meta: dict = field(default_factory=dict)
    kind: str = "image"  # image (n, h, w, c) | sequence (n, steps, channels)
    task: Task = CLASSIFICATION  # what y is: class codes, or targets (n, outputs)

    @property
    def splits(self):
        return self.train, self.val, self.test

    @property
    def streamed(self) -> bool:
        return self.train.streamed

    @property
    def prep(self) -> dict:
        """What a model's first layers need: the pixel scale, or for sequences the training
        split's per-channel mean and standard deviation; and what its last layer needs of
        the training targets (``Task.prep``)."""
        out = self.task.prep(self.train.y, self.class_names)
        if self.kind != "sequence":
            return {"scale": self.scale, **out}
        x = self.train.x.astype("float64")
        std = x.std(axis=(0, 1))
        return {"scale": 1.0, "mean": x.mean(axis=(0, 1)).tolist(),
                "std": np.where(std > 1e-6, std, 1.0).tolist(), **out}

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.train.shape

    @property
    def num_classes(self) -> int:
        """The model's outputs: classes, or a regression's targets."""
        return len(self.class_names)

    @property
    def skipped(self) -> list[dict]:
        """The files left out because they could not be read: {file, error}."""
        return self.meta.get("skipped", [])

    def skipped_note(self) -> str | None:
        """One warning line about the files left out, or None."""
        if not self.skipped:
            return None
        first, n = self.skipped[0], len(self.skipped)
        return (f"warning: {n} of {self.meta['n'] + n} images cannot be read and are left out,"
                f" such as '{first['file']}' ({first['error']}); the study's MLflow run lists "
                "them all (data.json)")

    def describe_splits(self) -> str:
        """Where each split came from: "train: given (800), val: split from train (15%) (141),
        test: given (200)"."""
        origin = self.meta.get("splits", {})
        return ", ".join(f"{part}: {origin.get(part, 'split')} ({len(getattr(self, part))})"
                         for part in ("train", "val", "test"))

    def class_weights(self, setting, where: str = "training.class_weight"
                      ) -> dict[int, float] | None:
        """``training.class_weight`` as Keras takes it (class index -> weight), or None for
        ``none``. ``balanced`` weighs each class n / (classes * its count in train), so every
        class adds up to the same total; a mapping names classes as ``class_names`` does."""
        if setting in (None, "none") or not self.task.classes:
            return None
        if setting == "balanced":
            counts = np.bincount(self.train.y, minlength=self.num_classes).astype("float64")
            return {i: float(len(self.train) / (self.num_classes * c)) if c else 1.0
                    for i, c in enumerate(counts)}
        index = {str(n): i for i, n in enumerate(self.class_names)}
        unknown = [k for k in setting if str(k) not in index]
        if unknown:
            raise DataError(f"{where} names class {unknown[0]!r}, which data '{self.name}' "
                            f"does not have; its classes are {', '.join(map(str, index))}")
        return {i: float(setting.get(name, 1.0)) for name, i in index.items()}

    def check_split(self, checks: int) -> Split | StoredSplit:
        """What a trial checked ``checks`` times a pass is validated on at each check: the
        first 1/checks of the validation split (a random part, the same for every trial), so
        that checking costs no more validation a pass than checking once
        (``cnntune.checks``); the whole split with one check."""
        return self.val if checks <= 1 else self.val.head(max(1, len(self.val) // checks))

    def fold(self, i: int, k: int) -> Dataset:
        """Fold ``i`` of ``k`` (stratified, seeded by the data's split seed, so the same for
        every trial): validation is that fold of train + val, training the other folds; the
        test split is the test split."""
        from .splits import kfold

        both = self.train.concat(self.val)
        folds = kfold(self.task.strata(both.y), k, int(self.meta.get("load", {}).get("seed", 0)))
        return replace(self, train=both.take(np.flatnonzero(folds != i)),
                       val=both.take(np.flatnonzero(folds == i)))

    def check_folds(self, k: int, where: str = "training.folds") -> None:
        """DataError unless every class of train + val can be in each of ``k`` folds."""
        if self.streamed:
            raise DataError(f"{where}: data '{self.name}' is stored on disk, read in order; "
                            "k-fold cross-validation is for data that fits in memory (set "
                            "data.in_memory: true, or drop training.folds)")
        if not self.task.classes:
            n = len(self.train) + len(self.val)
            if n < 2 * k:
                raise DataError(f"{where} is {k} but train + val hold {n} examples; give "
                                f"fewer folds (at most {n // 2}) or more data")
            return
        counts = np.bincount(np.concatenate([self.train.y, self.val.y]),
                             minlength=self.num_classes)
        if counts.min() < k:
            c = self.class_names[int(counts.argmin())]
            raise DataError(f"{where} is {k} but class '{c}' has {counts.min()} examples in "
                            f"train + val; give fewer folds (at most {counts.min()}) or more "
                            "data")

    @cached_property
    def fingerprint(self) -> str:
        """A hash of every split's examples and labels, in order: the same whether the splits
        are in memory or stored."""
        h = hashlib.sha256()
        for s in self.splits:
            for chunk in s.chunks():
                h.update(np.ascontiguousarray(chunk).tobytes())
            h.update(np.ascontiguousarray(s.y).tobytes())
        return h.hexdigest()[:12]
