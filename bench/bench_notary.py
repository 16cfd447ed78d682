"""Docker Content Trust lookups: lkpolicy's Notary v1 client against `notary lookup`.

    .venv/bin/python bench/bench_notary.py [--tags 50] [--runs 3] [--signer remote|local]

Starts ../shared/recipes/notary-registry.sh (notary-signer + notary-server + registry on
127.0.0.1, free ports, its own state directory, always stopped at the end), then signs N extra
tags `b0..bN-1` in `targets/releases` with the notary CLI (`notary addhash` per tag, one
`publish`; the digests are synthetic, the registry is not involved). Measured, medians of runs:

1. notary: N runs of `notary lookup GUN bI`, each with a fresh trust directory (first contact,
   as a CI job without state would do) — the baseline, including Go process start-up.
2. cold: N lookups in this process, each by a new NotaryClient with an empty trust directory
   (TOFU, every role fetched over HTTPS, verified, cached). Target: <= 0.5x notary's total.
   Reported too: the same N lookups through one client and one cache (what a policy run does).
3. warm offline: N lookups from the cache with `offline=True` and no server needed, each by a
   new client (as the trust stage builds one per config). The first verifies the cached
   collection completely (root, timestamp, snapshot, targets, releases; expiry; rollback); the
   others reuse that verification once they have checked that the cached files are still the
   verified bytes and still unexpired. Target: <= 50 ms for all N. Also one load + N
   `find_target` calls, and N complete verifications without reuse (`load_trusted_set`).

Interpreter start-up and `import lkpolicy.stages.trust.notary.client` are measured separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT.parent / "shared" / "recipes" / "notary-registry.sh"

from lkpolicy.stages.trust.notary.cache import TrustStore  # noqa: E402
from lkpolicy.stages.trust.notary.client import NotaryClient  # noqa: E402
from lkpolicy.stages.trust.notary.trusted_set import load_trusted_set  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(runs: int, action: Callable[[], object]) -> float:
    return statistics.median(timed(action) for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--signer", choices=["remote", "local"], default="remote")
    args = parser.parse_args()
    for tool in ("notary", "notary-server", "notary-signer", "docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            print(f"bench_notary: `{tool}` not found (apt-get install notary docker-registry "
                  f"skopeo)", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="bench-notary-"))
    env = {**os.environ, "NOTARY_PORT": str(free_port()), "SIGNER_PORT": str(free_port()),
           "REGISTRY_PORT": str(free_port()), "SIGNER": args.signer, "NO_INSTALL": "1"}
    # The recipe's defaults, needed again here to sign with the keys it created.
    for role in ("ROOT", "TARGETS", "SNAPSHOT", "DELEGATION"):
        env.setdefault(f"NOTARY_{role}_PASSPHRASE", f"test-{role.lower()}-passphrase")
    state = work / "state"
    try:
        started = time.perf_counter()
        out = subprocess.run(["bash", str(SCRIPT), "start", str(state)], env=env, check=True,
                             capture_output=True, text=True).stdout
        facts = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        gun, url, ca = facts["GUN"], facts["NOTARY_URL"], facts["NOTARY_CA"]
        cli = ["notary", "-s", url, "-d", facts["TRUST_DIR"], "--tlscacert", ca]
        tags = [f"b{i}" for i in range(args.tags)]
        for number, tag in enumerate(tags):
            digest = f"{number:064x}"
            subprocess.run([*cli, "addhash", gun, tag, "1000", "--sha256", digest, "-r",
                            "targets/releases"], env=env, check=True, capture_output=True)
        subprocess.run([*cli, "publish", gun], env=env, check=True, capture_output=True)
        print(f"test bed up and {len(tags)} tags signed in {time.perf_counter() - started:.1f} s "
              f"(signer={args.signer})")

        def notary_all() -> None:
            for tag in tags:
                trust = tempfile.mkdtemp(dir=work)
                result = subprocess.run(["notary", "-s", url, "-d", trust, "--tlscacert", ca,
                                         "lookup", gun, tag], check=True, capture_output=True,
                                        text=True)
                assert result.stdout.split()[0] == tag
                shutil.rmtree(trust)

        def cold_each() -> None:
            for number, tag in enumerate(tags):
                trust = tempfile.mkdtemp(dir=work)
                with NotaryClient(url, trust, ca_file=ca) as client:
                    assert client.lookup(gun, tag).sha256 == f"{number:064x}"
                shutil.rmtree(trust)

        def cold_shared() -> None:
            trust = tempfile.mkdtemp(dir=work)
            with NotaryClient(url, trust, ca_file=ca) as client:
                for tag in tags:
                    client.lookup(gun, tag)
            shutil.rmtree(trust)

        cache = work / "cache"
        with NotaryClient(url, cache, ca_file=ca) as client:
            client.lookup(gun, tags[0])
        offline = NotaryClient("https://127.0.0.1:9", cache, offline=True)
        rounds = iter(range(10**6))

        def warm_each() -> None:
            # A fresh copy of the cache each round: the process has verified none of it yet.
            copy = work / f"cache-{next(rounds)}"
            shutil.copytree(cache, copy)
            for tag in tags:
                NotaryClient("https://127.0.0.1:9", copy, offline=True).lookup(gun, tag)

        def warm_once() -> None:
            trusted = offline.load(gun)
            for tag in tags:
                trusted.find_target(tag)

        store = TrustStore(cache)
        pinned = store.pinned_root(gun)

        def full_each() -> None:
            for tag in tags:
                load_trusted_set(store.fetcher(gun), gun, dt.datetime.now(dt.UTC),
                                 trusted_root=pinned,
                                 known_versions=store.versions(gun)).find_target(tag)

        baseline = median(args.runs, notary_all)
        cold = median(args.runs, cold_each)
        shared = median(args.runs, cold_shared)
        warm = median(args.runs, warm_each)
        once = median(args.runs, warm_once)
        full = median(args.runs, full_each)
        startup = median(args.runs, lambda: subprocess.run(
            [sys.executable, "-c", "import lkpolicy.stages.trust.notary.client"], check=True))
        bare = median(args.runs, lambda: subprocess.run([sys.executable, "-c", "pass"],
                                                        check=True))
        n = len(tags)
        print(f"notary lookup x{n} (fresh trust dir each): {baseline * 1000:8.1f} ms "
              f"({baseline / n * 1000:.1f} ms/tag)")
        print(f"lkpolicy cold x{n} (new client, empty cache each): {cold * 1000:8.1f} ms "
              f"ratio {cold / baseline:.2f}x (target <= 0.50x)")
        print(f"lkpolicy cold, one client + cache for all {n}: {shared * 1000:8.1f} ms "
              f"ratio {shared / baseline:.2f}x")
        print(f"lkpolicy warm offline x{n} (a new client each; verified once, then reused): "
              f"{warm * 1000:8.1f} ms (target <= 50 ms) {'OK' if warm <= 0.05 else 'MISSED'}")
        print(f"lkpolicy warm offline, one load + {n} find_target: {once * 1000:8.1f} ms")
        print(f"complete offline verification x{n}, no reuse: {full * 1000:8.1f} ms "
              f"({full / n * 1000:.2f} ms each)")
        print(f"python start-up: {bare * 1000:.1f} ms; + import notary.client: "
              f"{(startup - bare) * 1000:.1f} ms (once per process, not in the figures above)")
        return 0
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], env=env, capture_output=True,
                       check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
