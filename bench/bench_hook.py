"""The pre-commit hook's first run: environment size and time, core install against the full one.

    .venv/bin/python bench/bench_hook.py [--runs N] [--modes cold,warm,offline]

pre-commit builds a hook's environment the first time the hook runs: a virtualenv into which
pip installs the hook repository (`pip install .`, lkpolicy's core, no extras) and the hook's
`additional_dependencies`. The working tree is snapshotted into a throw-away git repository
(tests/snapshot.py), and each variant runs `pre-commit run lkpolicy-check --files c.yml` with a
fresh PRE_COMMIT_HOME, from a repository whose `.pre-commit-config.yaml` names the snapshot:

* core: the hook as published, what every user gets;
* full: `additional_dependencies: ['.[all]']`, every extra, which is what the hook installed
  before the trust and build libraries became extras (today's install, as the baseline).

Printed for each: the first run's wall time (environment creation, then one check), the size of
the hook's environment (its `py_env-*` directory) and of the whole PRE_COMMIT_HOME (the clone
too), then the ratios core/full (target <= 0.5 for time and size). The variants alternate, and
medians are taken over `--runs`.

pip modes (pre-commit's pip reads the usual PIP_* variables):

* cold: `PIP_NO_CACHE_DIR=1`, every distribution fetched from the index;
* warm: a private pip cache, filled by one unmeasured run of the same variant first. pip keeps
  an index's answers only when its HTTP headers allow caching; the cache size printed shows what
  it kept (an index behind a proxy that forbids caching leaves it nearly empty, and warm then
  measures the same as cold);
* offline: `PIP_NO_INDEX=1` with a local wheelhouse of every distribution (`pip download`
  once, unmeasured): what the best warm cache gives, without the network.

virtualenv's own seed cache (pip and setuptools wheels, in the user's application data) is
left as it is: it is the same for both variants.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from snapshot import git, snapshot  # noqa: E402

BIN = Path(sys.executable).parent
CONFIG = """\
kernel:
  image: linuxkit/kernel:6.6.13@sha256:{b}
  cmdline: console=ttyS0
init:
  - linuxkit/init:v1.0@sha256:{a}
""".format(a="a" * 64, b="b" * 64)
VARIANTS = {"core": [], "full": [".[all]"]}
TIMEOUT = 1800


def hook_config(repository: Path, rev: str, extras: list[str]) -> str:
    dependencies = ", ".join(f"'{item}'" for item in extras)
    return (f"repos:\n  - repo: {repository}\n    rev: {rev}\n    hooks:\n"
            f"      - id: lkpolicy-check\n        additional_dependencies: [{dependencies}]\n")


def size(path: Path) -> int:
    """Bytes on disk below `path` (as `du`: allocated blocks, hard links once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def environment(pip: dict[str, str], home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PRE_COMMIT", "GIT_", "PIP_"))}
    for key in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT"):  # how to reach the index, not what to use
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(pip, PRE_COMMIT_HOME=str(home), LKPOLICY_NO_CACHE="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def first_run(work: Path, home: Path, pip: dict[str, str]) -> float:
    """Seconds for `pre-commit run` with an empty PRE_COMMIT_HOME (it must pass)."""
    start = time.perf_counter()
    done = subprocess.run([str(BIN / "pre-commit"), "run", "lkpolicy-check", "--files", "c.yml"],
                          cwd=work, env=environment(pip, home), capture_output=True, text=True,
                          timeout=TIMEOUT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pre-commit failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def prepare(base: Path, repository: Path, rev: str, name: str, extras: list[str]) -> Path:
    work = base / f"work-{name}"
    work.mkdir()
    git(work, "init", "-q")
    (work / "c.yml").write_text(CONFIG)
    (work / ".pre-commit-config.yaml").write_text(hook_config(repository, rev, extras))
    git(work, "add", ".")
    return work


def wheelhouse(base: Path, repository: Path) -> Path:
    """Every distribution the full variant installs, and the build backend, as local files."""
    house = base / "wheelhouse"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    for args in (["download", "-d", str(house), "setuptools>=77", "pip", "wheel"],
                 ["wheel", "-w", str(house), f"{repository}[all]"]):
        subprocess.run(pip + args, check=True, capture_output=True, timeout=TIMEOUT)
    return house


def pip_settings(mode: str, base: Path, house: Path | None, run: str) -> dict[str, str]:
    if mode == "cold":
        return {"PIP_NO_CACHE_DIR": "1"}
    if mode == "warm":
        return {"PIP_CACHE_DIR": str(base / f"pip-cache-{run}")}
    assert house is not None
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(house)}


def measure(mode: str, base: Path, repository: Path, rev: str, house: Path | None,
            runs: int) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = {
        name: {"seconds": [], "env": [], "home": [], "cache": []} for name in VARIANTS}
    for run in range(runs):
        for name, extras in VARIANTS.items():
            label = f"{mode}-{name}-{run}"
            work = prepare(base, repository, rev, label, extras)
            pip = pip_settings(mode, base, house, label)
            if mode == "warm":  # fill the private cache once, unmeasured
                first_run(work, base / f"home-fill-{label}", pip)
            home = base / f"home-{label}"
            seconds = first_run(work, home, pip)
            envs = [path for path in home.rglob("py_env-*") if path.is_dir()]
            if len(envs) != 1:
                raise SystemExit(f"expected one hook environment in {home}, found {envs}")
            row = samples[name]
            row["seconds"].append(seconds)
            row["env"].append(size(envs[0]))
            row["home"].append(size(home))
            cache = Path(pip.get("PIP_CACHE_DIR", ""))
            row["cache"].append(size(cache) if mode == "warm" and cache.is_dir() else 0)
    return {name: {key: statistics.median(values) for key, values in row.items()}
            for name, row in samples.items()}


def report(mode: str, result: dict[str, dict[str, float]]) -> None:
    mib = 1 << 20
    for name, row in result.items():
        cached = f", pip cache {row['cache'] / mib:.1f} MiB" if mode == "warm" else ""
        print(f"{mode:8} {name}: first run {row['seconds']:.1f} s, environment "
              f"{row['env'] / mib:.1f} MiB, PRE_COMMIT_HOME {row['home'] / mib:.1f} MiB{cached}")
    core, full = result["core"], result["full"]
    print(f"{mode:8} ratios core/full: time {core['seconds'] / full['seconds']:.2f}, "
          f"environment {core['env'] / full['env']:.2f}, PRE_COMMIT_HOME "
          f"{core['home'] / full['home']:.2f} (target <= 0.50)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--modes", default="cold,warm,offline",
                        help="comma-separated: cold, warm, offline")
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if unknown := set(modes) - {"cold", "warm", "offline"}:
        raise SystemExit(f"unknown modes: {', '.join(sorted(unknown))}")
    if not (BIN / "pre-commit").exists():
        raise SystemExit(f"pre-commit is not installed beside {sys.executable}")
    with tempfile.TemporaryDirectory(prefix="lkpolicy-bench-hook-") as temporary:
        base = Path(temporary)
        repository = base / "lkpolicy"
        repository.mkdir()
        rev = snapshot(repository)
        house = wheelhouse(base, repository) if "offline" in modes else None
        for mode in modes:
            report(mode, measure(mode, base, repository, rev, house, args.runs))


if __name__ == "__main__":
    main()
