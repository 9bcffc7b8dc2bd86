"""The AutoKeras contender of peers.py: ``ImageClassifier`` out of the box, as its docs show.

Runs in a venv of its own (peers.py makes it): autokeras 3.0 fails every model on Keras 3.15
("invalid value for `units`"), it works with keras 3.12 and tensorboard. It reads the splits
peers.py wrote (the same rows every contender gets) and writes the same timeline: per trial its
best validation accuracy (AutoKeras itself ranks trials by validation loss), the test accuracy
of that trial's model, its epochs and its seconds inside fit.

    python peer_autokeras.py SPLITS.npz WORK TIMELINE T0 SEED
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from timeline import Timeline


def main(splits: str, work: str, timeline_path: str, t0: float, seed: int) -> None:
    import autokeras as ak
    import keras

    d = np.load(splits)
    timeline = Timeline(timeline_path, t0)
    fit = {"seconds": 0.0, "epochs": 0, "t": 0.0}

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            fit["t"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            fit["epochs"] += 1

        def on_train_end(self, logs=None):
            fit["seconds"] += time.perf_counter() - fit["t"]

    clf = ak.ImageClassifier(overwrite=True, directory=str(Path(work) / "ak"), seed=seed,
                             max_trials=10**4)
    tuner = clf.tuner
    end = tuner.on_trial_end

    def on_trial_end(trial):
        end(trial)
        try:  # the trial's best checkpoint on the test split
            model = tuner.load_model(trial)
            pred = np.asarray(model.predict(d["x_test"], verbose=0))
            test = float((pred.argmax(axis=1) == d["y_test"]).mean())
        except Exception:
            test = None
        # AutoKeras scores trials by val_loss; the timeline compares validation accuracy
        val = trial.metrics.get_best_value("val_accuracy") \
            if trial.metrics.exists("val_accuracy") else None
        timeline.trial(val, test, fit["epochs"], fit["seconds"])
        fit.update(seconds=0.0, epochs=0)

    tuner.on_trial_end = on_trial_end
    clf.fit(d["x_train"], d["y_train"], validation_data=(d["x_val"], d["y_val"]),
            callbacks=[Clock()], verbose=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
