"""What runs inside a trial worker process: one trial (``trial``: data, model, fit, scores),
the fit with its clock and early stopping (``train``), the latency measured on the trained model
(``latency``), and the parent/worker protocol (``runner``; ``python -m cnntune.worker`` is the
worker's entry point). Nothing here imports a command module."""
