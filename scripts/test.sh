#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh Debian/Ubuntu machine.
source "$(dirname "$0")/_setup.sh"
# docker-registry and skopeo: the registry tests run against the real thing on 127.0.0.1.
lk_setup "python3 python3-venv python3-pip git docker-registry skopeo" "[test]"
.venv/bin/ruff check lkpolicy tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest -n auto -q "$@"
