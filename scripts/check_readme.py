"""check_readme.py HELLO_BINARY — README's program is docs/examples/hello.cpp
verbatim, and running it prints what README says it prints."""
import re
import subprocess
import sys

readme = open("README.md").read()
blocks = re.findall(r"```(\w*)\n(.*?)```", readme, re.S)
code = next(b for lang, b in blocks if lang == "cpp")
printed = blocks[[lang for lang, _ in blocks].index("cpp") + 1][1]
ok = True
if code != open("docs/examples/hello.cpp").read():
    print("   README's program differs from docs/examples/hello.cpp")
    ok = False
out = subprocess.run([sys.argv[1]], capture_output=True, text=True).stdout
if out != printed:
    print("   README says it prints:\n" + printed + "   but it printed:\n" + out)
    ok = False
sys.exit(0 if ok else 1)
