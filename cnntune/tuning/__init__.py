"""The stage that runs a study.

``plan`` resolves and checks everything a run needs before anything is written (with
``autospace``, the space picked for the data when none is given, and ``warmstart``, the
configurations a study starts from); ``session`` opens the study and its MLflow parent run and
reads the result back; ``study`` runs the trials in this process and ``parallel`` spreads one
study over worker processes; ``baselines`` fits the classical models beside the trials; the
``engines`` (Optuna, KerasTuner) propose trials and know no Keras model and no MLflow.
"""
