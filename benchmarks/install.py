"""What a GPU-capable install costs: cnntune installed with ``tensorflow-cpu`` against the same
install with ``tensorflow`` (the wheel that runs on CPUs and, with CUDA libraries present, on
GPUs), side by side in one invocation.

For each variant: a copy of this checkout whose ``setup.cfg`` names that TensorFlow
requirement, a fresh venv, ``pip install -e '.[test]'`` as ``make install`` runs it. The pip
cache is warmed for both variants first (``pip download``), so the timed installs compare the
work CI repeats on this machine, not the network; the wheel sizes say what a cold cache adds.
Printed: install seconds, site-packages size, the TensorFlow wheel's size, whether
``import tensorflow`` works and which distributions provide it (``tensorflow`` and
``tensorflow-cpu`` both install the same ``tensorflow/`` folder, so exactly one must be there),
then the ratios. ``--gpu-extra`` also resolves ``.[gpu]`` on top of the proposed install (pip's
``--dry-run``: what would be added) and checks ``tensorflow-cpu`` is not among it.

    python3 benchmarks/install.py [--repeat 1] [--gpu-extra]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"tensorflow-cpu": "tensorflow-cpu", "tensorflow": "tensorflow"}
TF_LINE = re.compile(r"^(\s*)tensorflow(-cpu)?(\[[^\]]*\])?([<>=!~].*)$", re.M)


def checkout(dist: str, work: Path) -> Path:
    """A copy of the tracked files with ``dist`` as the TensorFlow requirement."""
    dst = work / f"src-{dist}"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for f in files:
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)
    cfg = dst / "setup.cfg"
    text, n = TF_LINE.subn(lambda m: f"{m.group(1)}{dist}{m.group(4)}", cfg.read_text(), count=1)
    if n != 1:
        sys.exit("setup.cfg names no tensorflow requirement to swap")
    cfg.write_text(text)
    return dst


def requirement(src: Path) -> str:
    return TF_LINE.search((src / "setup.cfg").read_text()).group(0).strip()


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def install(src: Path, work: Path, tag: str) -> dict:
    venv = work / f"venv-{tag}"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    t0 = time.perf_counter()
    subprocess.run([py, "-m", "pip", "install", "-q", "-e", f"{src}[test]"], check=True)
    seconds = time.perf_counter() - t0
    dists = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], capture_output=True,
                           text=True, check=True).stdout
    providers = sorted(line.split("==")[0] for line in dists.splitlines()
                       if line.split("==")[0].lower() in ("tensorflow", "tensorflow-cpu",
                                                          "tensorflow_cpu"))
    works = subprocess.run([py, "-c", "import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'; "
                            "import tensorflow as tf; print(tf.__version__, "
                            "len(tf.config.list_physical_devices('GPU')))"],
                           capture_output=True, text=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    return {"seconds": seconds, "site_mb": du(site) / 1e6, "providers": providers,
            "import": works.stdout.strip() if works.returncode == 0 else "FAILS",
            "venv": venv}


def wheel_mb(dist_req: str, work: Path) -> float:
    d = work / f"wheel-{dist_req.split('<')[0].split('>')[0]}"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(d),
                    dist_req], check=True)
    return sum(f.stat().st_size for f in d.glob("*.whl")) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1, help="installs per variant (alternating)")
    ap.add_argument("--gpu-extra", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cnntune-install-"))
    srcs = {name: checkout(dist, work) for name, dist in VARIANTS.items()}
    wheels = {name: wheel_mb(requirement(src), work) for name, src in srcs.items()}  # warms
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for i in range(args.repeat):
        for name, src in srcs.items():  # side by side, alternating
            runs[name].append(install(src, work, f"{name}-{i}"))
            r = runs[name][-1]
            print(f"  {name:<15} install {r['seconds']:6.1f} s  site-packages "
                  f"{r['site_mb']:7.0f} MB  provides tensorflow: {', '.join(r['providers'])}"
                  f"  import: {r['import']}", flush=True)
    print("\n| install | TensorFlow wheel MB | pip install -e .[test] s (median) | "
          "site-packages MB | distributions providing `tensorflow` |")
    print("| --- | ---: | ---: | ---: | --- |")
    med = {}
    for name, rs in runs.items():
        secs = sorted(r["seconds"] for r in rs)
        med[name] = secs[len(secs) // 2]
        print(f"| {name} | {wheels[name]:.0f} | {med[name]:.1f} | {rs[0]['site_mb']:.0f} | "
              f"{', '.join(rs[0]['providers'])} |")
    tf, cpu = runs["tensorflow"][0], runs["tensorflow-cpu"][0]
    print(f"\ntensorflow / tensorflow-cpu: install time "
          f"{med['tensorflow'] / med['tensorflow-cpu']:.2f}x, site-packages "
          f"{tf['site_mb'] / cpu['site_mb']:.2f}x, wheel "
          f"{wheels['tensorflow'] / wheels['tensorflow-cpu']:.2f}x")
    if args.gpu_extra:
        py = runs["tensorflow"][0]["venv"] / "bin" / "python"
        out = subprocess.run([py, "-m", "pip", "install", "--dry-run", "-q", "--report", "-",
                              f"{srcs['tensorflow']}[gpu]"], capture_output=True, text=True)
        import json

        try:
            added = sorted(i["metadata"]["name"] for i in json.loads(out.stdout)["install"])
        except (ValueError, KeyError):
            added = [f"(pip failed: {out.stderr.strip().splitlines()[-1:]})"]
        print(f"[gpu] on top would add {len(added)} distributions; tensorflow-cpu among them: "
              f"{'tensorflow-cpu' in [a.lower() for a in added]}")
        print("  " + ", ".join(added))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
