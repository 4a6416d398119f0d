#!/usr/bin/env python3
"""check_doc_snippets.py --lib-dir DIR [options] [FILE.md ...] — every code
snippet of the documentation compiles, and every program whose output the
documentation shows prints exactly that.

Files: README.md, docs/*.md, docs/design/*.md, docs/reference/*.md (or the
ones given). Snippets are fenced code blocks; the first word of the info
string says what they are:

  ```cpp   a C++ snippet, one of:
           * a complete program (it has `int main(`): compiled and linked
             against the library; when the next checked block is an
             ```output block (blocks of other languages, a shell command,
             may come between), run, and its standard output must be
             exactly that block;
           * a fragment: its first line is `// snippet: fragment`; compiled
             as the body of a function, after the umbrella header
             <microthreading/microthreading.hpp>, common standard headers and
             `using namespace std::chrono_literals;`;
           * declarations: first line `// snippet: toplevel`; compiled at
             namespace scope after the same preamble;
           * shared declarations: first line `// snippet: context`; compiled
             as declarations, and put before every later fragment of the
             same file (the names a page's fragments share, shown once).
           A ```cpp block that is none of these is an error, so no snippet
           escapes the check.
  ```cpp signature
           declarations copied from a public header: each one (comments
           and whitespace aside) must appear in a public header as written,
           so a reference's signatures cannot drift from the code.
  ```c     the C API: a complete program (compiled as C11, linked, run as
           above), a fragment (`/* snippet: fragment */`, the body of a
           function after #include <microthreading/core/microthreading.h>),
           declarations (`/* snippet: toplevel */`) or shared declarations
           (`/* snippet: context */`), as for C++.
  ```python
           a program run with the module micro_threading on PYTHONPATH
           (--python-path) when an ```output block follows; otherwise only
           its syntax is checked.

An HTML comment right before a fence, `<!-- snippet-context` ... `-->`,
holds declarations the reader does not need to see (the pipes, handles or
functions a fragment uses); they are compiled at namespace scope before the
snippet. Fragments are compiled, not linked, so `extern` declarations do.

Programs of docs/tutorial.md are built the tutorial's way when --installed
DESTDIR is given (the library installed there with `meson install
--destdir`): with `pkg-config --cflags --libs microthreading`, no header of
the tree on the include path. Everything else compiles against the tree's
headers (-I include -I .) and links the library in --lib-dir.

Prints "ok FILE:LINE ..." or "FAIL FILE:LINE ..." per snippet, then a
summary; exits 1 if any failed.
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FILES = ["README.md", "docs/*.md", "docs/design/*.md", "docs/reference/*.md"]
PUBLIC_HEADERS = ["core/*.hpp", "core/microthreading.h", "notifier/*.hpp", "pipes/*.hpp",
                  "nonblocking_io/*.hpp", "microthreading.hpp"]
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wno-unused-variable", "-Wno-unused-parameter",
            "-Wno-unused-but-set-variable", "-Wno-unused-function", "-Wno-unused-local-typedefs"]

CPP_PREAMBLE = """\
#include <microthreading/microthreading.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
"""

C_PREAMBLE = """\
#include <microthreading/core/microthreading.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
"""


class Snippet:
    def __init__(self, path, line, lang, info, code, context):
        self.path, self.line, self.lang, self.info, self.code, self.context = path, line, lang, info, code, context
        self.expected = None  # the output block that follows, if any
        self.kind = None
        self.shared = ""  # the file's `snippet: context` blocks before it

    def where(self):
        return "%s:%d" % (self.path, self.line)


def parse(path):
    """Fenced blocks of a Markdown file, with the context comment before each."""
    rel = os.path.relpath(path, ROOT)
    lines = open(path).read().split("\n")
    blocks = []
    i = 0
    last_comment = None  # (end line index, text) of the last <!-- snippet-context --> comment
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("<!-- snippet-context"):
            start = i
            body = [line.strip()[len("<!-- snippet-context"):]]
            while "-->" not in lines[i]:
                i += 1
                body.append(lines[i])
            body[-1] = body[-1].split("-->")[0]
            last_comment = (i, "\n".join(body).strip("\n"), start)
            i += 1
            continue
        m = re.match(r"^(\s*)(`{3,}|~{3,})\s*(.*)$", line)
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).strip()
        start = i
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*" + re.escape(fence[0]) + "{%d,}\\s*$" % len(fence), lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        context = None
        if last_comment and all(not l.strip() for l in lines[last_comment[0] + 1:start]):
            context = (last_comment[2] + 2, last_comment[1])
        lang = info.split()[0].lower() if info else ""
        blocks.append(Snippet(rel, start + 1, lang, info, "\n".join(body) + "\n", context))
    return blocks


def classify(blocks):
    """Attaches output blocks to the programs before them; returns the snippets
    to check and the errors of structure."""
    snippets, errors = [], []
    shared = {}  # language -> the `snippet: context` declarations so far
    checked = ("cpp", "c++", "c", "python")
    for k, b in enumerate(blocks):
        if b.lang == "output":
            # the program it belongs to: the last checked block before it
            # (blocks of other languages, a shell command, may come between)
            prev = next((x for x in reversed(blocks[:k]) if x.lang in checked or x.lang == "output"), None)
            if not prev or prev.kind not in ("program", "c-program", "python-program") or prev.expected is not b.code:
                errors.append((b, "an ```output block must follow the program that prints it"))
            continue
        first = next((l.strip() for l in b.code.split("\n") if l.strip()), "")
        nxt = next((x for x in blocks[k + 1:] if x.lang in checked or x.lang == "output"), None)
        if b.lang in ("cpp", "c++"):
            if "signature" in b.info.split()[1:]:
                b.kind = "signature"
            elif re.search(r"\bint\s+main\s*\(", b.code):
                b.kind = "program"
            elif first == "// snippet: fragment":
                b.kind = "fragment"
            elif first == "// snippet: toplevel":
                b.kind = "toplevel"
            elif first == "// snippet: context":
                b.kind = "toplevel"
                shared["cpp"] = shared.get("cpp", "") + line_directive(b) + b.code
            else:
                errors.append((b, "a ```cpp block must be a program (int main), start with "
                                  "'// snippet: fragment' or '// snippet: toplevel', or be ```cpp signature"))
                continue
        elif b.lang == "c":
            if "signature" in b.info.split()[1:]:
                b.kind = "signature"
            elif re.search(r"\bint\s+main\s*\(", b.code):
                b.kind = "c-program"
            elif first == "/* snippet: fragment */":
                b.kind = "c-fragment"
            elif first in ("/* snippet: toplevel */", "/* snippet: context */"):
                b.kind = "c-toplevel"
                if first == "/* snippet: context */":
                    shared["c"] = shared.get("c", "") + line_directive(b) + b.code
            else:
                errors.append((b, "a ```c block must be a program (int main), start with '/* snippet: fragment */', "
                                  "'/* snippet: toplevel */' or '/* snippet: context */', or be ```c signature"))
                continue
        elif b.lang == "python":
            b.kind = "python-program" if nxt and nxt.lang == "output" else "python-syntax"
        else:
            continue
        if nxt and nxt.lang == "output" and b.kind in ("program", "c-program", "python-program"):
            b.expected = nxt.code
        if b.kind in ("fragment", "toplevel"):
            b.shared = shared.get("cpp", "") if not first == "// snippet: context" else ""
        elif b.kind in ("c-fragment", "c-toplevel"):
            b.shared = shared.get("c", "") if not first == "/* snippet: context */" else ""
        snippets.append(b)
    return snippets, errors


# ---- signatures ------------------------------------------------------------------------

def normalize(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" ?([^\w ]) ?", r"\1", text)
    return text.strip()


_headers = None


def header_text():
    global _headers
    if _headers is None:
        files = sorted({f for g in PUBLIC_HEADERS for f in glob.glob(os.path.join(ROOT, g))})
        _headers = normalize("\n".join(open(f).read() for f in files))
    return _headers


def declarations(code):
    """The declarations of a signature block: split at ';' outside brackets."""
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    code = re.sub(r"//[^\n]*", " ", code)
    # a preprocessor line is a declaration of its own
    directives = [l for l in code.split("\n") if l.strip().startswith("#")]
    code = "\n".join(l for l in code.split("\n") if not l.strip().startswith("#"))
    out, depth, cur = list(directives), 0, ""
    for ch in code:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
            if ch == "}" and depth == 0:  # the end of a body or a class
                out.append(cur + ch)
                cur = ""
                continue
        if ch == ";" and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [d for d in (normalize(x) for x in out) if d]


def check_signature(s):
    text = header_text()
    bad = [d for d in declarations(s.code) if d not in text]
    if bad:
        return False, "not found in the public headers as written:\n" + "\n".join("  " + d for d in bad)
    return True, "signature (%d declarations as in the headers)" % len(declarations(s.code))


# ---- compiling and running -----------------------------------------------------------

def line_directive(s, offset=1):
    return '#line %d "%s"\n' % (s.line + offset, s.path)


def source_of(s):
    ctx = s.shared
    if s.context:
        ctx += '#line %d "%s"\n%s\n' % (s.context[0], s.path, s.context[1])
    if s.kind == "program":
        return s.code if not ctx else ctx + s.code  # a program stands alone
    if s.kind == "fragment":
        return CPP_PREAMBLE + ctx + "void snippet_body() {\n" + line_directive(s) + s.code + "}\n"
    if s.kind == "toplevel":
        return CPP_PREAMBLE + ctx + line_directive(s) + s.code
    if s.kind == "c-program":
        return s.code
    if s.kind == "c-fragment":
        return C_PREAMBLE + ctx + "void snippet_body(void) {\n" + line_directive(s) + s.code + "}\n"
    if s.kind == "c-toplevel":
        return C_PREAMBLE + ctx + line_directive(s) + s.code
    raise AssertionError(s.kind)


def pkg_config(destdir, libdir):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(destdir + libdir, "pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=destdir)
    out = subprocess.run(["pkg-config", "--cflags", "--libs", "microthreading"], capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        sys.exit("check_doc_snippets: pkg-config found no microthreading under %s: %s" % (destdir, out.stderr))
    return out.stdout.split()


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, **kw)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(cmd, 124, e.stdout or "", "timed out after %s s" % kw.get("timeout"))


def check(s, opts, work):
    if s.kind == "signature":
        return check_signature(s)
    if s.kind in ("python-program", "python-syntax"):
        return check_python(s, opts, work)
    name = "snippet_%s_%d" % (re.sub(r"\W", "_", s.path), s.line)
    is_c = s.kind.startswith("c-")
    src = os.path.join(work, name + (".c" if is_c else ".cpp"))
    with open(src, "w") as f:
        f.write(source_of(s))
    installed = opts.installed and s.path == "docs/tutorial.md"
    if installed:
        flags = pkg_config(opts.installed, opts.installed_libdir)
        rpath = ["-Wl,-rpath," + opts.installed + opts.installed_libdir]
        includes = []
    else:
        flags = ["-L" + opts.lib_dir, "-lmicrothreading", "-pthread"]
        rpath = ["-Wl,-rpath," + opts.lib_dir]
        includes = ["-I", os.path.join(ROOT, "include"), "-I", ROOT]
    if not is_c and "fmt::" in source_of(s):
        flags = flags + ["-lfmt"]  # the opt-in formatters (core/format.hpp) are used with fmt itself
    compiler = [opts.cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
                "-Wno-unused-parameter"] if is_c else [opts.cxx, "-std=c++20"] + WARNINGS
    exe = os.path.join(work, name)
    if s.kind in ("fragment", "toplevel", "c-fragment", "c-toplevel"):
        out = run(compiler + includes + ["-fsyntax-only", src])
        what = "fragment" if s.kind in ("fragment", "c-fragment") else "declarations"
        return (out.returncode == 0, ("%s (compiled%s)" % (what, ", C" if is_c else "")) if out.returncode == 0
                else out.stderr)
    out = run(compiler + includes + [src, "-o", exe] + flags + rpath)
    if out.returncode != 0:
        return False, out.stderr
    how = "installed library, pkg-config" if installed else "in-tree headers"
    if s.expected is None:
        return True, "program (compiled and linked: %s; no output shown, not run)" % how
    res = run([exe], cwd=work, stdin=subprocess.DEVNULL, timeout=60)
    if res.returncode != 0:
        return False, "the program exited with %d; stdout:\n%s\nstderr:\n%s" % (res.returncode, res.stdout, res.stderr[-2000:])
    if res.stdout != s.expected:
        return False, "the program printed:\n%s\nbut the doc shows:\n%s" % (res.stdout, s.expected)
    return True, "program (%s; ran, printed what the doc shows)" % how


def check_python(s, opts, work):
    name = "snippet_%s_%d.py" % (re.sub(r"\W", "_", s.path), s.line)
    src = os.path.join(work, name)
    with open(src, "w") as f:
        f.write(s.code)
    out = run([sys.executable, "-m", "py_compile", src])
    if out.returncode != 0:
        return False, out.stderr
    if s.kind == "python-syntax":
        return True, "python (syntax checked)"
    if not opts.python_path:
        return True, "python (syntax checked; not run: no --python-path)"
    env = dict(os.environ, PYTHONPATH=opts.python_path)
    res = run([opts.python, src], cwd=work, stdin=subprocess.DEVNULL, timeout=60, env=env)
    if res.returncode != 0:
        return False, "exited with %d:\n%s%s" % (res.returncode, res.stdout, res.stderr[-2000:])
    if res.stdout != s.expected:
        return False, "the program printed:\n%s\nbut the doc shows:\n%s" % (res.stdout, s.expected)
    return True, "python program (ran, printed what the doc shows)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib-dir", required=True, help="the build directory holding libmicrothreading.so")
    ap.add_argument("--installed", help="DESTDIR of `meson install --destdir`, for the tutorial's programs")
    ap.add_argument("--installed-libdir", default="/usr/local/lib/x86_64-linux-gnu",
                    help="the libdir under DESTDIR (prefix/libdir of the build)")
    ap.add_argument("--python-path", help="PYTHONPATH holding the module micro_threading")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    ap.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--keep", help="write the sources and binaries here (default: a temporary directory)")
    ap.add_argument("files", nargs="*")
    opts = ap.parse_args()
    opts.lib_dir = os.path.abspath(opts.lib_dir)
    if opts.installed:
        opts.installed = os.path.abspath(opts.installed)
    if opts.python_path:
        opts.python_path = os.path.abspath(opts.python_path)

    files = opts.files or sorted(f for g in DEFAULT_FILES for f in glob.glob(os.path.join(ROOT, g)))
    snippets, errors = [], []
    for f in files:
        s, e = classify(parse(os.path.abspath(f)))
        snippets += s
        errors += e

    work = opts.keep or tempfile.mkdtemp(prefix="mt-doc-snippets-")
    os.makedirs(work, exist_ok=True)
    failed = 0
    kinds = {}
    for b, why in errors:
        print("FAIL %s %s" % (b.where(), why))
        failed += 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        results = list(pool.map(lambda s: check(s, opts, work), snippets))
    for s, (ok, msg) in zip(snippets, results):
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
        if ok:
            print("ok %s %s" % (s.where(), msg))
        else:
            failed += 1
            print("FAIL %s %s" % (s.where(), s.kind))
            print("\n".join("   " + l for l in msg.rstrip().split("\n")[:40]))
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    ran = sum(1 for s in snippets if s.expected is not None)
    print("   %d snippets in %d files: %d ok, %d failed (%s; %d programs run against their output)"
          % (len(snippets) + len(errors), len(files), len(snippets) + len(errors) - failed, failed,
             ", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items())), ran))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
