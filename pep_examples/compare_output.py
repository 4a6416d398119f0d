"""compare_output.py EXPECTED ACTUAL — exact line-by-line comparison, except
that {{ANY}} in an expected line matches any text. Prints a diff on mismatch."""
import difflib
import re
import sys


def match(expected, actual):
    if "{{ANY}}" not in expected:
        return expected == actual
    pattern = ".*".join(map(re.escape, expected.split("{{ANY}}")))
    return re.fullmatch(pattern, actual) is not None


exp = open(sys.argv[1]).read().rstrip("\n").split("\n")
act = open(sys.argv[2]).read().rstrip("\n").split("\n")
ok = len(exp) == len(act) and all(match(e, a) for e, a in zip(exp, act))
if not ok:
    sys.stdout.write("\n".join(difflib.unified_diff(exp, act, "expected", "actual", lineterm="")) + "\n")
sys.exit(0 if ok else 1)
