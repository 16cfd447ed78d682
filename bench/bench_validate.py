"""Schema validation: the generated validator against jsonschema, side by side in the same run.

    .venv/bin/python bench/bench_validate.py [--rounds N] [--starts N]

1. Throughput over the corpus configs in ../shared/corpus/linuxkit (documents per second,
   median of N interleaved rounds), for the validators alone and for the schema findings
   (`validate_document`, which is what `lkpolicy check` runs; the jsonschema variant is how it
   ran before the generated validator).
2. Start-up: a fresh interpreter that imports the validator and checks one config, against one
   that only imports what both need (median of N interleaved starts each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "linuxkit"
# As in bench_check.py: compiled bytecode for both sides, whatever the caller's environment.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}

FLOOR = ("from lkpolicy.stages.load import load_document\n"
         "document, _ = load_document('examples/traps/schema-errors.yml')\n")
# Both import the validation stage, which imports the generated module (about a millisecond);
# the jsonschema variant then adds jsonschema, as `lkpolicy check` did before.
STAGE = "from lkpolicy.stages.validate import SCHEMA_PATH, schema_findings\n"
STARTS = {
    "floor": FLOOR,
    "generated": FLOOR + STAGE + "from lkpolicy.stages.schemacheck.generated import violations\n"
                                 "assert schema_findings(document, violations(document.data))\n",
    "jsonschema": FLOOR + STAGE + "from lkpolicy.stages.schemacheck.reference import "
                                  "reference_violations\n"
                                  "assert schema_findings(document, reference_violations("
                                  "document.data, SCHEMA_PATH))\n",
}


def corpus_documents() -> list[Any]:
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.load import load_document

    rows = [line.split("\t") for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]]
    documents = []
    for row in rows:
        if len(row) < 2 or not row[1].startswith("config"):
            continue  # package label sources (build.yml), not build configs
        try:
            documents.append(load_document(str(CORPUS / row[0]))[0])
        except InputError:
            continue  # examples/static-ip.yml: a YAML syntax error, before the schema
    return documents


def throughput(variants: dict[str, Callable[[Any], object]], documents: list[Any],
               rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        run(documents[0])  # one-off set-up (imports, schema compilation) is not throughput
    for _ in range(rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            for document in documents:
                run(document)
            samples[name].append(time.perf_counter() - start)
    return {name: len(documents) / statistics.median(values) for name, values in samples.items()}


def starts(runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in STARTS}
    for _ in range(runs + 1):
        for name, code in STARTS.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, check=True)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values[1:]) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--starts", type=int, default=21)
    args = parser.parse_args()

    from lkpolicy.stages.schemacheck.generated import violations
    from lkpolicy.stages.schemacheck.reference import reference_violations
    from lkpolicy.stages.validate import SCHEMA_PATH, schema_findings

    if CORPUS.is_dir():
        documents = corpus_documents()
        rates = throughput({
            "generated": lambda document: violations(document.data),
            "jsonschema": lambda document: reference_violations(document.data, SCHEMA_PATH),
            "generated+findings": lambda document: schema_findings(
                document, violations(document.data)),
            "jsonschema+findings": lambda document: schema_findings(
                document, reference_violations(document.data, SCHEMA_PATH)),
        }, documents, args.rounds)
        print(f"corpus: {len(documents)} configs, median of {args.rounds} interleaved rounds")
        for what in ("", "+findings"):
            fast, slow = rates["generated" + what], rates["jsonschema" + what]
            label = "validator alone" if not what else "schema findings (validate_document)"
            print(f"  {label}: generated {fast:,.0f} docs/s, jsonschema {slow:,.0f} docs/s, "
                  f"ratio generated/jsonschema = {fast / slow:.1f}x")
    else:
        print("corpus not found next to the checkout; throughput skipped")

    times = starts(args.starts)
    floor = times["floor"]
    print(f"start-up, import the validation stage and check one config (median of {args.starts} "
          f"fresh interpreters; the floor, {floor * 1000:.0f} ms, only loads the config):")
    for name in ("generated", "jsonschema"):
        print(f"  {name}: {times[name] * 1000:.0f} ms, {(times[name] - floor) * 1000:+.1f} ms "
              "over the floor")
    print(f"  jsonschema costs {(times['jsonschema'] - times['generated']) * 1000:.0f} ms more "
          f"per start; ratio of the starts generated/jsonschema = "
          f"{times['generated'] / times['jsonschema']:.2f}")


if __name__ == "__main__":
    main()
