"""The MLflow layout, written and read: where stores live (``stores``), the parent run per
study and child run per trial as a search writes them (``runs``), and ``StudyView``, the one
read-back record every command that reads a study uses (``studies``)."""
