"""Ctrl-C during a write to the tracking store: the write ends whole, then the interrupt is
raised (a KeyboardInterrupt inside SQLAlchemy left SQLite locked for the writes that close the
study, and the search ended with a traceback and exit 1 instead of 130)."""

import os
import signal

import pytest

from cnntune.tracking.runs import Tracker, ctrl_c_held


def test_ctrl_c_in_the_block_is_raised_once_the_block_has_ended():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_held():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")
    assert done == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with ctrl_c_held():  # no signal, nothing raised
        done.append("again")
    assert done[-1] == "again"


def test_every_tracking_client_call_ends_whole_under_ctrl_c(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    tracker = Tracker(f"sqlite:///{tmp_path}/m.db")
    exp = tracker.client.create_experiment("e")
    run = tracker.client.create_run(exp).info.run_id
    real = MlflowClient.set_tag

    def interrupted(self, *args, **kwargs):  # Ctrl-C lands in the middle of the write
        os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "set_tag", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tracker.client.set_tag(run, "k", "v")
    monkeypatch.setattr(MlflowClient, "set_tag", real)
    assert MlflowClient(tracker.tracking_uri).get_run(run).data.tags["k"] == "v"
    tracker.client.set_terminated(run, "KILLED")  # and the store takes the next write
    assert MlflowClient(tracker.tracking_uri).get_run(run).info.status == "KILLED"
