"""One address: ``zonage check`` against what a user would otherwise run, ``zonage eligibility`` on a one-row file.

Usage: ``ZONAGE_DATA=data python benchmarks/bench_check.py [--repeat 5]`` (the layers must be built).

Every run is a fresh process (cold: imports, reads, answer), started by a small runner
process that reports its wall time and its peak RSS (``resource.getrusage(RUSAGE_CHILDREN)``
of the runner: the command alone). The two commands alternate, so that a busy machine
weighs on both alike; the table gives the median and worst time, the worst peak RSS, and
the ratios (eligibility / check). The targets of issue 13 are under 2 s and under 300 MB
for ``check``. Answers are compared by ``tests/test_check.py``; this script only measures
(it checks the exit codes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: Runs ``argv`` as its child and prints its wall time and peak RSS (KiB) as JSON.
_RUNNER = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode\n"
    "seconds = time.perf_counter() - start\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'seconds': seconds, 'cpu': usage.ru_utime + usage.ru_stime, 'kib': usage.ru_maxrss,"
    " 'code': code}))\n"
)

#: (case, arguments of ``zonage check``, the one-row CSV of the baseline, extra baseline options).
CASES: list[tuple[str, list[str], str, list[str]]] = [
    ("point, Metz (HZ)", ["--lonlat", "6.1757,49.1193", "--type", "MSP", "--date", "2025-03-01"],
     "lon,lat,type\n6.1757,49.1193,MSP\n", ["--date", "2025-03-01"]),
    ("point in a QPV, Charleville-Mézières", ["--lonlat", "4.689856,49.763569", "--type", "MSP"],
     "lon,lat,type\n4.689856,49.763569,MSP\n", []),
    ("point, Saint-Denis (La Réunion)", ["--lonlat", "55.447463,-20.943347", "--type", "CH"],
     "lon,lat,type\n55.447463,-20.943347,CH\n", []),
    ("address, commune geocoder (52100 Saint-Dizier)", ["52100 Saint-Dizier", "--type", "MSP", "--backend", "commune"],
     "code_postal,commune,type\n52100,Saint-Dizier,MSP\n", ["--geocoder", "commune"]),
]


def _measure(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _RUNNER, *argv], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command per case")
    parser.add_argument("--data", default=os.environ.get("ZONAGE_DATA", "data"), help="built data folder")
    args = parser.parse_args()
    env = {**os.environ}
    zonage = [sys.executable, "-m", "zonage", "--data", args.data]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (case, check_args, csv, batch_args) in enumerate(CASES):
            source = Path(tmp) / f"one_{index}.csv"
            source.write_text(csv, encoding="utf-8")
            commands = {
                "check": [*zonage, "check", *check_args],
                "eligibility": [*zonage, "eligibility", str(source), "-o", str(Path(tmp) / f"out_{index}.csv"),
                                *batch_args],
            }
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
            for repeat in range(args.repeat):
                order = list(commands) if repeat % 2 == 0 else list(reversed(commands))
                for name in order:
                    result = _measure(commands[name], env)
                    expected = (0,) if name == "eligibility" else (0, 3, 4)
                    if result["code"] not in expected:
                        raise SystemExit(f"{case}: {name} exited with {result['code']}: {' '.join(commands[name])}")
                    runs[name].append(result)
            figures = {}
            for name, results in runs.items():
                seconds = [r["seconds"] for r in results]
                figures[name] = (statistics.median(seconds), max(seconds),
                                 statistics.median(r["cpu"] for r in results), max(r["kib"] for r in results) / 1024)
            rows.append((case, figures))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.repeat} fresh processes per command and case, data {args.data}; load average at the end "
          f"{load:.1f} on {os.cpu_count()} CPUs (wall times grow with it, CPU times much less)")
    head = f"{'case':<48} {'command':<12} {'median s':>9} {'worst s':>8} {'CPU s':>6} {'peak MiB':>9}"
    print(head)
    print("-" * len(head))
    for case, figures in rows:
        for name in ("eligibility", "check"):
            median, worst, cpu, peak = figures[name]
            print(f"{case:<48} {name:<12} {median:>9.2f} {worst:>8.2f} {cpu:>6.2f} {peak:>9.0f}")
        (bm, _, bc, bp), (cm, _, cc, cp) = figures["eligibility"], figures["check"]
        verdict = "targets met" if cm < 2.0 and cp < 300 else "TARGET MISSED"
        print(f"{'':<48} {'ratio':<12} {bm / cm:>8.1f}x {'':>8} {bc / cc:>5.1f}x {bp / cp:>8.1f}x  (check: median "
              f"{cm:.2f} s, peak {cp:.0f} MiB: {verdict})")


if __name__ == "__main__":
    main()
