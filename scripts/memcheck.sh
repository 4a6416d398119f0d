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
# Also left out: the tests that measure time against generous bounds
# (valgrind runs the program some 50 times slower, so a 10 ms deadline meets
# a 20 ms sleep). Forked children are not checked (--child-silent-after-fork:
# a child of a multi-threaded parent "leaks" the parent's threads' memory,
# and would exit with valgrind's error status). Valgrind 3.19 does not know
# pidfd_open: a child's exit is then awaited through SIGCHLD, the fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
mt_install_deps
mkdir -p build
mt_build build/debug -Dbuildtype=debug -Db_lto=false
excluded="*overflow*,*map-count*,*server*,*HTTP*,*half-written*,*10,000*,*Ctrl-C*,*wait_child*,*process*,*command*"
excluded+=",*in order of their due times*,*timer keeps firing on time*,*try_lock_for and try_lock_until*"
excluded+=",*destroyed after a waiter timed out*,*reaches the shield's deadline*"
# A forked child's exit status again (valgrind's own), and a test that makes
# operator new fail (valgrind replaces operator new, so it never fails).
excluded+=",*ends holding a mutex has it released*,*cannot get memory*,*changes errno*"
# Whole files left out for the same reason: every stress run and every
# subprocess call is a forked child whose exit status the test reads.
files_excluded="*test_stress.cpp,*test_subprocess_call.cpp"
valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --child-silent-after-fork=yes \
  build/debug/tests/core_tests --no-intro=true -tce="$excluded" -sfe="$files_excluded" "$@"
