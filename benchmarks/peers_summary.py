"""Medians and worst cases over seeds of the runs peers.py recorded (``--record FILE``).

Per data set and comparison (same space: cnntune against kt-*, optuna-loop; out of the box:
cnntune-auto against autokeras, kt-hyperband, optuna-loop): each contender's median and worst
best-trial test accuracy at the budget, and its median time from process start to the best
peer's median final accuracy; then the issue's targets, checked. Where cnntune's pruner
variants ran (``cnntune-median``, ``cnntune-hyperband`` ...: the same space, each pruner),
their medians and worst cases side by side, and those run with one check a pass
(``cnntune-median-checks1`` ...) beside them.

    .venv/bin/python benchmarks/peers_summary.py benchmarks/peers-runs.jsonl
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

from peers import OUT_OF_THE_BOX, stats

from cnntune.catalog import PRUNERS
from cnntune.space import SearchSettings


def main(path: str) -> None:
    runs: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for line in open(path):
        r = json.loads(line)
        runs[r["data"]][r["contender"]].append(r)
    for data, by_name in runs.items():
        peers_same = [n for n in by_name if not n.startswith("cnntune") and n != "autokeras"]
        peers_box = [n for n in by_name if n in OUT_OF_THE_BOX]
        for mode, me, peers in (("same space", "cnntune", peers_same),
                                ("out of the box", "cnntune-auto", peers_box)):
            if me in by_name and peers:
                summarize(data, mode, me, peers, by_name)
        pruners = {f"{p}{c}": f"cnntune-{p}{c}" for p in PRUNERS for c in ("", "-checks1")
                   if f"cnntune-{p}{c}" in by_name}
        default = SearchSettings.model_fields["pruner"].default
        if pruners and "cnntune" in by_name and default not in pruners:
            # the same-space run is the default pruner's, where it did not run by name
            pruners = {f"{default} (default)": "cnntune", **pruners}
        if pruners:
            summarize_pruners(data, pruners, by_name)


def finals(records: list[dict]) -> list[float]:
    return [stats(r["timeline"], r["wall"])["best_test"] or 0.0 for r in records]


def summarize(data: str, mode: str, me: str, peers: list[str], by_name: dict) -> None:
    medians = {n: statistics.median(finals(by_name[n])) for n in [me] + peers}
    best_peer = max(peers, key=lambda n: medians[n])
    target = medians[best_peer]
    print(f"\n== {data}, {mode}: target {target:.4f} (median final of {best_peer})")
    print(f"{'contender':<16}{'seeds':>6}{'median':>8}{'worst':>8}{'to target s (median)':>22}"
          f"{'reached':>9}  commits")
    times = {}
    for n in [me] + peers:
        recs = sorted(by_name[n], key=lambda r: r["seed"])
        acc = finals(recs)
        reached = [stats(r["timeline"], r["wall"], target)["to_target"] for r in recs]
        hit = [t for t in reached if t is not None]
        # a seed that never reached the target counts as the whole budget, an optimistic floor
        times[n] = statistics.median([t if t is not None else r["wall"]
                                      for t, r in zip(reached, recs)])
        commits = ",".join(sorted({r["commit"] for r in recs}))
        print(f"{n:<16}{len(recs):>6}{statistics.median(acc):>8.4f}{min(acc):>8.4f}"
              f"{times[n]:>22.0f}{f'{len(hit)}/{len(recs)}':>9}  {commits}")
    mine = finals(by_name[me])
    ok_med = statistics.median(mine) >= target + 0.02
    ok_worst = min(mine) >= target
    ratio = times[me] / times[best_peer] if times[best_peer] else float("nan")
    print(f"targets: median {statistics.median(mine):.4f} >= {target + 0.02:.4f}: "
          f"{'met' if ok_med else 'MISSED'}; worst {min(mine):.4f} >= {target:.4f}: "
          f"{'met' if ok_worst else 'MISSED'}; time to target {me}/{best_peer} {ratio:.2f} "
          f"<= 0.5: {'met' if ratio <= 0.5 else 'MISSED'}")


def summarize_pruners(data: str, pruners: dict[str, str], by_name: dict) -> None:
    """Each pruner's best test accuracy (median, worst), trials and time to its own final best
    over the seeds it ran (``pruners``: the row's label, the contender that ran it)."""
    print(f"\n== {data}, cnntune's pruners (same space)")
    print(f"{'pruner':<16}{'seeds':>6}{'median':>8}{'worst':>8}{'trials (median)':>17}"
          f"{'s to its best (median)':>24}  commits")
    for p, name in pruners.items():
        recs = sorted(by_name[name], key=lambda r: r["seed"])
        acc = finals(recs)
        runs = [stats(r["timeline"], r["wall"]) for r in recs]
        to_best = [stats(r["timeline"], r["wall"], s["best_test"])["to_target"]
                   for r, s in zip(recs, runs)]
        commits = ",".join(sorted({r["commit"] for r in recs}))
        print(f"{p:<16}{len(recs):>6}{statistics.median(acc):>8.4f}{min(acc):>8.4f}"
              f"{statistics.median(s['trials'] for s in runs):>17.0f}"
              f"{statistics.median(t or r['wall'] for t, r in zip(to_best, recs)):>24.0f}"
              f"  {commits}")


if __name__ == "__main__":
    main(sys.argv[1])
