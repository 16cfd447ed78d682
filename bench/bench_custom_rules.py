"""What 20 custom CEL rules cost: `lkpolicy check` over the whole corpus with the built-in
default policy, against the same with a policy that extends it by 20 custom rules (container
and config scope, with and without macros). Target: at most +20%.

    .venv/bin/python bench/bench_custom_rules.py [--runs N]

Both runs are `--no-cache` (every config judged) and `--no-images`, as in bench_check.py's
corpus run, interleaved, median of N each. The CPU time (user + system) of each run is
reported beside the wall time: on a machine shared with other work it is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_check import BIN, CORPUS, ENV, ROOT

_CONTAINER = [
    "'CAP_SYS_ADMIN' in grants.capabilities",
    "'CAP_NET_RAW' in grants.capabilities && section == 'services'",
    "grants.mounts.exists(m, m.source.startsWith('/var/run') && !m.readonly)",
    "grants.mounts.exists(m, m.source == '/dev' && !m.readonly)",
    "grants.devices.exists(d, d.every_device)",
    "'pid' in grants.host_namespaces && !name.startsWith('getty')",
    "grants.namespaces.net == 'host' && grants.capabilities.exists(c, c == 'CAP_NET_ADMIN')",
    "!grants.readonly && image.registry != 'docker.io'",
    "grants.rootfs_propagation == 'shared'",
    "grants.sysctls.exists(k, k.startsWith('kernel.'))",
    "has(config.process.noNewPrivileges) && config.process.noNewPrivileges == false",
    "has(config.process.args) && config.process.args.exists(a, a.contains('curl'))",
    "has(config.process.env) && config.process.env.exists(e, e.startsWith('HTTP_PROXY='))",
    "config.process.user.uid == 0 && size(grants.capabilities) > 20",
    "has(entry.command) && size(entry.command) > 10",
    "image.tag == 'latest'",
    "has(label.binds) && label.binds.exists(b, b.startsWith('/etc:'))",
]
_CONFIG = [
    "files.exists(f, has(f.mode) && f.mode.endsWith('7'))",
    "has(kernel.cmdline) && kernel.cmdline.contains('nokaslr')",
    "services.exists(s, s.name == 'sshd') && !onboot.exists(o, o.name == 'sysctl')",
]


def policy_text() -> str:
    rules: dict[str, dict[str, str]] = {}
    for scope, conditions in (("container", _CONTAINER), ("config", _CONFIG)):
        for condition in conditions:
            rule_id = f"BEN{len(rules) + 1:03d}"
            rules[rule_id] = {"title": f"benchmark rule {rule_id}", "severity": "warning",
                              "rationale": "benchmark", "fix": "none", "scope": scope,
                              "condition": condition}
    assert len(rules) == 20
    return "extends: [builtin:default]\ncustom_rules: " + json.dumps(rules) + "\n"


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode not in (0, 1, 2):  # the corpus holds two unreadable configs
        raise SystemExit(f"{command} exited {completed.returncode}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit("corpus not found next to the checkout")
    with tempfile.TemporaryDirectory() as directory:
        policy = Path(directory) / "custom.yml"
        policy.write_text(policy_text(), encoding="utf-8")
        command = [str(BIN / "lkpolicy"), "check", "--no-cache", "--no-images", "--format",
                   "json", "--fail-on", "never"]
        commands = {"default": [*command, "--policy", "builtin:default", str(CORPUS)],
                    "custom": [*command, "--policy", str(policy), str(CORPUS)]}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for argv in commands.values():
            timed(argv)  # warm the page cache and .pyc files
        for _ in range(args.runs):
            for name, argv in commands.items():
                samples[name].append(timed(argv))
    wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s[1] for s in runs) for name, runs in samples.items()}
    print(f"check whole corpus, no cache ({args.runs} runs each, medians):")
    for label, figures in (("wall", wall), ("CPU", cpu)):
        cost = figures["custom"] / figures["default"] - 1
        print(f"  {label}: builtin:default {figures['default']:.2f} s, +20 CEL rules "
              f"{figures['custom']:.2f} s: {cost * 100:+.1f}% (target <= +20%)")


if __name__ == "__main__":
    main()
