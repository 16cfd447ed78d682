"""The LinuxKit corpus beside the checkout, listed at collection time (before fixtures exist)."""

from __future__ import annotations

from pathlib import Path

MANIFEST = Path(__file__).resolve().parent.parent / ".." / "shared" / "corpus" / "linuxkit" / "MANIFEST.tsv"
MISSING = "<corpus missing>"


def corpus_configs() -> list[str]:
    """Paths of the build configs in MANIFEST.tsv. Without the corpus, one placeholder case
    remains, and the `corpus_dir` fixture turns it into an explicit skip."""
    if not MANIFEST.is_file():
        return [MISSING]
    rows = [line.split("\t") for line in MANIFEST.read_text().splitlines()[1:] if line]
    return [row[0] for row in rows if row[1].startswith("config")]
