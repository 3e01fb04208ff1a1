"""Wall time and peak memory of `zonage build` on the national data, cold and re-run.

Usage: ``ZONAGE_MIRROR=../shared/data python benchmarks/bench_build.py``
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command in a child process; return (seconds, peak RSS of children in MiB)."""
    start = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kib / 1024


def main() -> None:
    mirror = os.environ.get("ZONAGE_MIRROR", "../shared/data")
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "ZONAGE_MIRROR": mirror, "ZONAGE_DATA": data}
        cmd = [sys.executable, "-m", "zonage", "build"]
        cold, peak = _run(cmd, env)
        warm, _ = _run(cmd, env)
    print(f"zonage build, cold (fetch from mirror + all layers): {cold:.1f} s, peak RSS {peak:.0f} MiB")
    print(f"zonage build, re-run with unchanged inputs:          {warm:.1f} s")


if __name__ == "__main__":
    main()
