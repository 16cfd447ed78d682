#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh Debian/Ubuntu machine.
source "$(dirname "$0")/_setup.sh"
lk_setup "python3 python3-venv python3-pip git" "[test]"
.venv/bin/ruff check lkpolicy tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest -n auto -q "$@"
