#!/usr/bin/env bash
# memcheck.sh — the test suite under valgrind's memcheck, in a debug build
# without sanitizers. Stacks are registered with valgrind
# (VALGRIND_STACK_REGISTER), so switches raise no false reports. Left out:
# the tests that crash a child process on purpose (valgrind reports the
# deliberate overflow itself), the tests whose forked children report exit
# statuses (under valgrind a forked child exits with valgrind's own status,
# and posix_spawn is emulated so a missing command is not an error), and the
# example-server tests (separate server processes, wrk, 10,000 connections:
# load tests, not memory tests); the million-micro-thread test runs 2,000.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
mt_install_deps
mkdir -p build
mt_build build/debug -Dbuildtype=debug -Db_lto=false
valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
  build/debug/tests/core_tests --no-intro=true -tce="*overflow*,*map-count*,*server*,*HTTP*,*half-written*,*10,000*,*Ctrl-C*,*wait_child*,*process*,*command*" "$@"
