"""The bounded readers every untrusted file and JSON document goes through."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lkpolicy.safeio import UntrustedInput, bounded_int, parse_json, read_regular_file


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_regular_file(fifo, 1024, "config")
        except BaseException as error:  # the thread reports whatever happened
            outcome.append(error)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], UntrustedInput)
    assert "not a regular file (a FIFO)" in str(outcome[0])


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "a device"), ("/", "a directory")])
def test_devices_and_directories_are_refused(path: str, kind: str) -> None:
    with pytest.raises(UntrustedInput, match=kind):
        read_regular_file(path, 1024, "key")


def test_size_bound(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2049)
    with pytest.raises(UntrustedInput, match="larger than 2 KiB"):
        read_regular_file(big, 2048)
    assert read_regular_file(big, 4096) == b"x" * 2049


@pytest.mark.parametrize(("data", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"[" * 70 + b"]" * 70, "deeper than 64 levels"),
    (b'{"size": 1e400}', "out of range"),
    (b'{"size": NaN}', "not a JSON number"),
    (b'{"size": ' + b"9" * 5000 + b"}", "too many digits"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"a": }', "not valid JSON"),
])
def test_hostile_json_is_one_sentence(data: bytes, reason: str) -> None:
    with pytest.raises(UntrustedInput) as caught:
        parse_json(data, "lock x.json")
    message = str(caught.value)
    assert message.startswith("lock x.json: ") and reason in message
    assert "\n" not in message and len(message) < 200


def test_json_within_bounds() -> None:
    assert parse_json(b'{"a": [1, 2.5, {"b": null}]}', "x") == {"a": [1, 2.5, {"b": None}]}
    assert parse_json(b"[" * 64 + b"]" * 64, "x") is not None


def test_bounded_int() -> None:
    assert bounded_int(5, "size") == 5
    for bad in (True, 1.5, "3", -1, 2**64):
        with pytest.raises(UntrustedInput):
            bounded_int(bad, "size")
