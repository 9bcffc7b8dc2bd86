"""Seeded, stratified splits, as index arrays: of one labelled set into train/val/test, or
of the training part of a source that brings some splits of its own."""

from __future__ import annotations

import numpy as np

from ..errors import DataError

PARTS = ("train", "val", "test")
# the sub-folders (and npz keys) that name splits a source brings: the split -> its names
SPLIT_NAMES = {"train": ("train",), "val": ("val", "validation"), "test": ("test",)}


def split(y: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int,
          name: str) -> dict[str, np.ndarray]:
    """Indices of train, val and test in ``y``, stratified and seeded."""
    counts = np.bincount(y)
    n_classes = len(counts)
    n_test = int(round(len(y) * test_fraction))
    n_val = int(round(len(y) * val_fraction))
    if min(n_test, n_val) < n_classes or counts.min() < 3:
        raise DataError(f"data '{name}': {len(y)} examples, smallest class {counts.min()}: too "
                        f"few to split into train/val/test with every class in each; "
                        f"give at least 3 examples per class (more is better)")
    rest, test = stratified_split(y, n_test, seed)
    train, val = (rest[i] for i in stratified_split(y[rest], n_val, seed))
    return {"train": train, "val": val, "test": test}


def assemble(y_train: np.ndarray, given: set[str], *, val_fraction: float,
             test_fraction: float, seed: int, name: str
             ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The parts missing from ``given`` (the splits a source brings besides train), split from
    the training part (stratified, seeded; the fractions are of the training part). Returns
    the indices into the training part of train and of each part taken from it, and where
    each of train, val and test came from."""
    origin = {"train": "given"}
    taken = {}
    rest = np.arange(len(y_train))
    for part, fraction in (("test", test_fraction), ("val", val_fraction)):
        if part in given:
            origin[part] = "given"
            continue
        counts = np.bincount(y_train[rest])
        n_take = int(round(len(y_train) * fraction))
        if n_take < len(counts) or counts.min() < 3:
            raise DataError(f"data '{name}': its training part ({len(rest)} examples, smallest "
                            f"class {counts.min()}) is too small to split a {part} set from "
                            f"with every class in it; give {part} data of its own or more "
                            "training examples")
        keep, take = stratified_split(y_train[rest], n_take, seed)
        taken[part] = rest[take]
        origin[part] = f"split from train ({fraction:.0%})"
        rest = rest[keep]
    taken["train"] = rest
    return taken, origin


def kfold(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Each example's fold (0..k-1), stratified: every class is dealt round the folds in a
    seeded random order, each class starting where the last one stopped, so folds differ in
    size by at most one and hold each class in the same proportion."""
    rng = np.random.RandomState(seed)
    fold = np.empty(len(y), dtype="int64")
    start = 0
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        fold[members] = (start + np.arange(len(members))) % k
        start += len(members)
    return fold


def stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, test) with ``n_test`` in test and every class in the same proportion in
    both: exactly scikit-learn's ``train_test_split(..., test_size=n_test, stratify=y,
    random_state=seed)`` (its StratifiedShuffleSplit draws, in its order), so that splits -
    and the data fingerprints studies are resumed and exported by - are what they were when
    cnntune split with scikit-learn, without importing it (~2 s)."""
    rng = np.random.RandomState(seed)
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(y_idx, kind="stable"), np.cumsum(counts)[:-1])
    n_rest = len(y) - n_test
    n_i = _approximate_mode(counts, n_rest, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    rest, test = [], []
    for i in range(len(classes)):
        members = by_class[i].take(rng.permutation(counts[i]), mode="clip")
        rest.extend(members[:n_i[i]])
        test.extend(members[n_i[i]:n_i[i] + t_i[i]])
    return rng.permutation(rest), rng.permutation(test)


def _approximate_mode(counts: np.ndarray, n_draws: int, rng) -> np.ndarray:
    """How many of each class ``n_draws`` stratified draws take: the floor of each class's
    share, the remainder to the largest leftovers, ties broken by ``rng`` (scikit-learn's
    ``_approximate_mode``, the same draws)."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add = min(len(inds), need)
            floored[rng.choice(inds, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    return floored.astype(int)
