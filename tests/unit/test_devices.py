"""GPU slots on simulated machines: which GPUs a search sees, picks and pins each worker to."""

import pytest

from cnntune.errors import ConfigError
from cnntune.tuning import devices


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A machine with the GPUs ``nvidia-smi`` would list (None: no driver, no nvidia-smi).
    The fake ``nvidia-smi`` is a real executable that, like the real one, answers the query
    for GPU indices with one index a line and anything else with its usage error and exit 1,
    so a changed or missing argument in cnntune's call shows as no GPU at all."""

    def make(smi_ids, visible=None):
        monkeypatch.delenv(devices.VISIBLE, raising=False)
        if visible is not None:
            monkeypatch.setenv(devices.VISIBLE, visible)
        if smi_ids is None:
            monkeypatch.setattr(devices.shutil, "which", lambda name: None)
            return
        smi = tmp_path / "nvidia-smi"
        listing = "".join(f"{i}\n" for i in smi_ids)
        smi.write_text(
            "#!/bin/sh\n"
            'if [ "$*" = "--query-gpu=index --format=csv,noheader" ]; then\n'
            f"  printf '{listing}'; exit 0\nfi\n"
            'echo "Invalid combination of input arguments. Please run \'nvidia-smi -h\'" >&2\n'
            "exit 1\n")
        smi.chmod(0o755)
        monkeypatch.setattr(devices.shutil, "which",
                            lambda name: str(smi) if name == "nvidia-smi" else None)

    return make


def test_visible_gpus_come_from_cuda_visible_devices_else_nvidia_smi(machine):
    machine(None)
    assert devices.visible_gpus() == []
    machine(["0", "1", "2"])
    assert devices.visible_gpus() == ["0", "1", "2"]
    machine(["0", "1", "2"], visible="2,0")  # what the user's environment allows wins
    assert devices.visible_gpus() == ["2", "0"]
    machine(["0", "1"], visible="-1")  # the usual way to hide them all
    assert devices.visible_gpus() == []
    machine(["0", "1"], visible="1,-1,0")  # CUDA stops at the first invalid id
    assert devices.visible_gpus() == ["1"]


def test_choose_all_none_or_ids_and_refuse_what_the_machine_lacks():
    assert devices.choose(None, ["0", "1"]) == ["0", "1"]
    assert devices.choose("all", []) == []
    assert devices.choose("none", ["0", "1"]) == []
    assert devices.choose(" 1, 0", ["0", "1"]) == ["1", "0"]
    for spec, visible, msg in (("5", ["0", "1"], "GPU 5 is not on this machine, which shows "
                                                "GPUs 0, 1"),
                               ("0", [], "which shows no GPU"),
                               ("0;1", ["0", "1"], "is not a list of GPU ids"),
                               ("", ["0"], "is not a list of GPU ids"),
                               ("1,1", ["0", "1"], "names a GPU twice")):
        with pytest.raises(ConfigError, match=msg):
            devices.choose(spec, visible)


def test_slots_one_worker_per_gpu_by_default_and_packed_with_trials_per_gpu():
    assert devices.slots([], None, 1) == [None]  # no GPU: one worker, as always
    assert devices.slots([], 3, 1) == [None, None, None]
    assert devices.slots(["0", "1"], None, 1) == ["0", "1"]
    assert devices.slots(["0", "2"], None, 2) == ["0", "0", "2", "2"]
    assert devices.slots(["0", "1"], 1, 1) == ["0"]
    assert devices.slots(["0", "1"], 3, 2) == ["0", "0", "1"]
    with pytest.raises(ConfigError, match="--workers 3 needs 3 GPU slots; 2 GPU.* give 2"):
        devices.slots(["0", "1"], 3, 1)
    with pytest.raises(ConfigError, match="--trials-per-gpu must be >= 1"):
        devices.slots(["0"], None, 0)


def test_worker_environment_pins_a_gpu_hides_them_or_leaves_a_cpu_machine_alone():
    env = devices.worker_env("1", ["0", "1"])
    assert env == {"CUDA_VISIBLE_DEVICES": "1", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert devices.device_of(env) == "gpu:1"
    hidden = devices.worker_env(None, ["0", "1"])  # --gpus none on a machine with GPUs
    assert hidden["CUDA_VISIBLE_DEVICES"] == "" and devices.device_of(hidden) == "cpu"
    assert devices.worker_env(None, []) == {}  # a CPU machine: behaviour as before
    assert devices.device_of({}) == "cpu"


def test_a_kerastuner_search_takes_one_gpu_where_optuna_takes_one_worker_per_gpu(monkeypatch):
    from cnntune.tuning import study

    seen = {}

    def stop(chosen, workers, per_gpu):
        seen["workers"] = workers
        raise ConfigError("stop here")

    monkeypatch.setenv(devices.VISIBLE, "0,1")
    monkeypatch.setattr(devices, "slots", stop)
    for engine, workers in (("kerastuner", 1), ("optuna", None)):
        with pytest.raises(ConfigError, match="stop here"):
            study.search("default", engine=engine)
        assert seen["workers"] == workers
