"""How fast `lkpolicy check` is, as ratios against other tools run side by side.

    .venv/bin/python bench/bench_check.py [--runs N] [--skip-corpus] [--break-even]

Every figure is the median of N interleaved runs (each command once per round, so that a busy
machine slows all of them alike), after one warm-up run each. The result cache lives in a
temporary directory; "cached" runs find their file there, as pre-commit does on an unchanged
file. The file is examples/minimal.yml, copied into a directory of its own so that the
built-in default policy judges it (examples/ has a project policy).

1. One file: `lkpolicy check` (cached) against `yamllint` (target <= 1.0x); `lkpolicy check
   --no-cache` against `check-jsonschema --schemafile schemas/linuxkit.schema.json` (target
   <= 0.35x); both against `python -c pass`; the default policy's cost (against `--no-policy`;
   target <= +20% each).
2. The corpus (../shared/corpus/linuxkit, its 196 build configs) in one call, `--no-cache`
   (target <= 0.6 s wall on 2 cores) and from the result cache, each with and without the
   default policy.
3. `--break-even`: N configs judged in one process against forked workers, for the
   threshold in lkpolicy/gate/parallel.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CORPUS = ROOT.parent / "shared" / "corpus" / "linuxkit"
LKPOLICY = str(BIN / "lkpolicy")

# Runs one check with the worker pool allowed or not (`--break-even` only).
POOL_DRIVER = ("import sys\n"
               "from lkpolicy.gate import parallel\n"
               "if sys.argv[1] == 'one-process':\n"
               "    parallel.worker_count = lambda jobs: 1\n"
               "elif sys.argv[1] == 'workers':\n"
               "    parallel.MIN_JOBS_PER_WORKER = 1\n"
               "sys.argv = ['lkpolicy', *sys.argv[2:]]\n"
               "from lkpolicy.cli import main\n"
               "main()\n")


def environment(result_cache: Path) -> dict[str, str]:
    # Installed packages ship compiled bytecode; an editable checkout gets it on first import,
    # unless PYTHONDONTWRITEBYTECODE forbids it (some CI machines set it), which would charge
    # lkpolicy a full compile on every start while the others' site-packages stay compiled.
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONDONTWRITEBYTECODE", "LKPOLICY_NO_CACHE")}
    env["LKPOLICY_CACHE_DIR"] = str(result_cache)
    return env


def wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - start
    if completed.returncode not in (0, 1, 2):
        raise SystemExit(f"{' '.join(command[:3])} exited {completed.returncode}")
    return elapsed


def interleaved(commands: dict[str, list[str]], runs: int,
                env: dict[str, str]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        wall(command, env)  # warm the page cache, the .pyc files and the result cache
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(wall(command, env))
    return {name: statistics.median(values) for name, values in samples.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "MISSED"


def one_file(runs: int, work: Path, env: dict[str, str]) -> None:
    directory = work / "project"
    (directory / ".git").mkdir(parents=True)  # policy discovery stops here: builtin:default
    config = str(directory / "minimal.yml")
    shutil.copy(ROOT / "examples" / "minimal.yml", config)
    times = interleaved({
        "python": [sys.executable, "-c", "pass"],
        "yamllint": [str(BIN / "yamllint"), config],
        "check-jsonschema": [str(BIN / "check-jsonschema"), "--schemafile",
                             "schemas/linuxkit.schema.json", config],
        "cached": [LKPOLICY, "check", config],
        "cached, --no-policy": [LKPOLICY, "check", "--no-policy", config],
        "--no-cache": [LKPOLICY, "check", "--no-cache", config],
        "--no-cache --no-policy": [LKPOLICY, "check", "--no-cache", "--no-policy", config],
    }, runs, env)
    print(f"one file (examples/minimal.yml, default policy), median of {runs} interleaved runs:")
    for name, seconds in times.items():
        print(f"  {name:24s} {ms(seconds):>8s}  {seconds / times['python']:5.1f}x python -c pass")
    cached = times["cached"] / times["yamllint"]
    cold = times["--no-cache"] / times["check-jsonschema"]
    print(f"  cached / yamllint                 = {cached:.2f}  (target <= 1.00) "
          f"{verdict(cached, 1.0)}")
    print(f"  --no-cache / check-jsonschema     = {cold:.2f}  (target <= 0.35) "
          f"{verdict(cold, 0.35)}")
    for label, with_policy, without in (("cached", "cached", "cached, --no-policy"),
                                        ("--no-cache", "--no-cache", "--no-cache --no-policy")):
        cost = times[with_policy] / times[without] - 1
        print(f"  default policy's cost, {label:11s}= {cost * 100:+.0f}%  (target <= +20%) "
              f"{verdict(cost, 0.20)}")


def corpus_configs() -> list[str]:
    rows = [line.split("\t") for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]]
    return [str(CORPUS / row[0]) for row in rows if len(row) > 1 and row[1] == "config"]


def corpus(runs: int, env: dict[str, str]) -> None:
    configs = corpus_configs()
    common = [LKPOLICY, "check", "--format", "json", "--fail-on", "never"]
    times = interleaved({
        "--no-cache": [*common, "--no-cache", *configs],
        "--no-cache --no-policy": [*common, "--no-cache", "--no-policy", *configs],
        "cached": [*common, *configs],
        "cached, --no-policy": [*common, "--no-policy", *configs],
    }, runs, env)
    print(f"the corpus: {len(configs)} configs in one call, median of {runs} interleaved runs "
          f"({len(os.sched_getaffinity(0))} cores):")
    for name, seconds in times.items():
        print(f"  {name:24s} {seconds:6.2f} s")
    print(f"  --no-cache wall                   = {times['--no-cache']:.2f} s (target <= 0.60 s) "
          f"{verdict(times['--no-cache'], 0.6)}")
    for label, with_policy, without in (("--no-cache", "--no-cache", "--no-cache --no-policy"),
                                        ("cached", "cached", "cached, --no-policy")):
        cost = times[with_policy] / times[without] - 1
        print(f"  default policy's cost, {label:11s}= {cost * 100:+.0f}%  (target <= +20%) "
              f"{verdict(cost, 0.20)}")


def break_even(runs: int, env: dict[str, str]) -> None:
    configs = corpus_configs()
    print(f"one process against two forked workers, --no-cache, median of {runs} runs:")
    for count in (4, 8, 12, 16, 24, 32, 64):
        chosen = configs[:count]
        base = ["check", "--no-cache", "--format", "json", "--fail-on", "never", *chosen]
        times = interleaved({
            "one process": [sys.executable, "-c", POOL_DRIVER, "one-process", *base],
            "workers": [sys.executable, "-c", POOL_DRIVER, "workers", *base],
        }, runs, env)
        ratio = times["workers"] / times["one process"]
        print(f"  {count:3d} configs: one process {ms(times['one process']):>7s}, workers "
              f"{ms(times['workers']):>7s}, ratio {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--break-even", action="store_true")
    args = parser.parse_args()
    for tool in ("yamllint", "check-jsonschema"):
        if not (BIN / tool).exists():
            raise SystemExit(f"bench_check: {tool} not found in {BIN} (pip install -e '.[test]')")
    with tempfile.TemporaryDirectory(prefix="bench-check-") as temporary:
        work = Path(temporary)
        env = environment(work / "result-cache")
        if args.break_even:
            break_even(max(5, args.runs // 3), env)
            return
        one_file(args.runs, work, env)
        if args.skip_corpus:
            return
        if CORPUS.is_dir():
            corpus(max(5, args.runs // 3), env)
        else:
            print("corpus not found next to the checkout; corpus benchmark skipped")


if __name__ == "__main__":
    main()
