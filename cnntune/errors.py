"""The error taxonomy. What kind of error it is decides what happens next.

* ``ConfigError`` (and its children) - bad input from the user: a search-space file, a data
  path, a CLI option. Raised before anything is written; the CLI prints one line and exits 2.
* ``TrialFailed`` - one trial could not finish (NaN loss, a model that cannot be built for this
  input). The trial is marked FAIL and the study goes on.
* ``WorkerDied`` - a trial's worker process died (out of memory?): the trial is FAIL and is
  retried once in a fresh worker.
* ``CnntuneError`` - anything else cnntune reports on purpose; exit 1.

Every message is one line that says what was wrong, where, and how to fix it.
"""

from __future__ import annotations


class CnntuneError(Exception):
    """Base class for errors cnntune raises on purpose."""

    exit_code = 1


class ConfigError(CnntuneError):
    """Bad user input found before any work started."""

    exit_code = 2


class SpaceError(ConfigError):
    """A search-space file is missing, malformed or inconsistent."""


class DataError(ConfigError):
    """A data source is missing, malformed or unusable."""


class StorageError(CnntuneError):
    """A study storage or tracking store cannot be used."""

    exit_code = 2


class TrialFailed(CnntuneError):
    """A single trial failed; the study continues with the next one."""


class BuilderFailed(TrialFailed):
    """A user's model builder raised, or built a model that does not fit the task: the trial
    is FAIL with the reason; when it is the study's first configuration, the search stops
    (``BuilderError``) instead of trying more."""


class NotApplicable(ConfigError):
    """A command or setting that does not apply to the study's task (explain on a
    segmentation): one line that says so, exit 2."""


class BuilderError(SpaceError, ValueError):
    """A model builder that does not import, is not callable, or fails on the study's first
    configuration: one line, exit 2 (a ValueError in Python)."""


class InputError(ConfigError, ValueError):
    """Bad input to the Python API (an estimator's fit, predict...): a ConfigError that is
    also a ValueError, as scikit-learn's conventions expect; nothing is written."""


class ModelFileError(ConfigError):
    """A model file or export folder given to predict or explain cannot be used."""


class ExportMismatch(CnntuneError):
    """An export's predictions disagree with the Keras model's beyond the format's tolerance
    (the export is kept, for inspection; exit 1)."""


class WorkerDied(CnntuneError):
    """A trial worker process exited or broke its pipe; its trial is retried once."""


class WorkerOverran(CnntuneError):
    """A trial worker did not answer before the study's deadline (plus grace)."""
