"""Check latency, measured as ratios against a baseline run side by side in the same run.

    .venv/bin/python bench/bench_check.py [--runs N]

1. `lkpolicy check examples/minimal.yml` against `check-jsonschema --schemafile
   schemas/linuxkit.schema.json examples/minimal.yml` (median of N interleaved runs each;
   target ratio <= 0.5).
2. One `lkpolicy check` call over the whole corpus in ../shared/corpus/linuxkit (target <= 1 s
   wall on 2 cores), against `python -c pass` as the interpreter floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CORPUS = ROOT.parent / "shared" / "corpus" / "linuxkit"


# Installed packages ship compiled bytecode; an editable checkout gets it on first import,
# unless PYTHONDONTWRITEBYTECODE forbids it (some CI machines set it), which would charge
# lkpolicy a full compile on every start while the baseline's site-packages stay compiled.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=ENV)
    elapsed = time.perf_counter() - start
    if completed.returncode not in (0, 1, 2):
        raise SystemExit(f"{command[0]} exited {completed.returncode}")
    return elapsed


def interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        wall(command)  # warm the page cache and .pyc files
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(wall(command))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    example = "examples/minimal.yml"
    medians = interleaved({
        "lkpolicy": [str(BIN / "lkpolicy"), "check", example],
        "lkpolicy-cold": [str(BIN / "lkpolicy"), "check", "--no-cache", example],
        "lkpolicy-cold-no-policy": [str(BIN / "lkpolicy"), "check", "--no-cache", "--no-policy",
                                    example],
        "check-jsonschema": [str(BIN / "check-jsonschema"), "--schemafile",
                             "schemas/linuxkit.schema.json", example],
        "python-floor": [sys.executable, "-c", "pass"],
    }, args.runs)
    ratio = medians["lkpolicy"] / medians["check-jsonschema"]
    print(f"check {example}: lkpolicy {medians['lkpolicy'] * 1000:.0f} ms, "
          f"check-jsonschema {medians['check-jsonschema'] * 1000:.0f} ms, "
          f"python floor {medians['python-floor'] * 1000:.0f} ms")
    print(f"  ratio lkpolicy/check-jsonschema = {ratio:.2f} (target <= 0.50; the file is "
          "unchanged between runs, as in pre-commit, so the result cache answers)")
    cold = medians["lkpolicy-cold"] / medians["check-jsonschema"]
    print(f"  without the result cache (--no-cache): {medians['lkpolicy-cold'] * 1000:.0f} ms, "
          f"ratio {cold:.2f}")
    policy_cost = medians["lkpolicy-cold"] / medians["lkpolicy-cold-no-policy"] - 1
    print(f"  cost of the default policy (cold, with vs --no-policy): {policy_cost * 100:+.0f}% "
          "(target <= +20%)")

    if CORPUS.is_dir():
        corpus = interleaved({"corpus": [str(BIN / "lkpolicy"), "check", "--no-cache", "--format",
                                         "json", "--fail-on", "never", str(CORPUS)]},
                             max(3, args.runs // 3))
        print(f"check whole corpus in one call, no cache: {corpus['corpus']:.2f} s wall (target <= 1.00 s), "
              f"ratio to python floor {corpus['corpus'] / medians['python-floor']:.1f}x")
    else:
        print("corpus not found next to the checkout; corpus benchmark skipped")


if __name__ == "__main__":
    main()
