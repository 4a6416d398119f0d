#!/usr/bin/env bash
# quickstart.sh — installs what is missing, builds, and runs the PEP example
# suite: each scenario of the micro-threading PEP as a program, with its output.
set -uo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh

mt_install_deps || { echo "cannot install dependencies"; exit 1; }
mkdir -p build
echo "== building (release)"
mt_build build/release || exit 1
pep_examples/run_all.sh build/release
