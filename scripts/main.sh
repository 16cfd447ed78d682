#!/usr/bin/env bash
# The main job: set up lkpolicy and run the gate on the example config.
source "$(dirname "$0")/_setup.sh"
lk_setup "python3 python3-venv python3-pip" ""
.venv/bin/lkpolicy check examples/minimal.yml
echo "examples/minimal.yml passed the gate"
