#!/usr/bin/env python3
"""check_reference.py [--list] — every public name of the public headers is
documented in docs/reference/, and every name the reference gives exists.

The public names:
  * C++: what the public headers (core/, notifier/, pipes/, nonblocking_io/
    and the umbrella microthreading.hpp; never a detail/ folder) declare in
    namespace mt outside mt::detail: classes, functions, aliases, enums and
    their constants, and the public members of the public classes (member
    functions, constructors, destructors, conversions, data members, nested
    types and aliases, members brought in by a using-declaration). Deleted
    functions, copy and move constructors and assignments are left out.
    They are read from clang's AST of the headers (clang++ -ast-dump=json),
    so overloads count once and templates are seen as declared.
  * C: what core/microthreading.h declares: functions, types, the fields of
    its structs, the status codes and the MT_ macros (read with a simple
    parse of the C declarations).

Documented means:
  * a C++ free name `f` appears as `mt::f`, and a member `m` of class `C` as
    `C::m` (template arguments are ignored: `micro_pipe<T>::put` counts for
    micro_pipe::put, `mt::` before a member is optional), anywhere in
    docs/reference/*.md;
  * a C function is named in a heading of docs/reference/capi.md (`###
    mt_name`, or a heading naming the few functions one block documents
    together: the uniform block per C function); the other C names appear
    anywhere in it, fields as `struct_name.field`.

And the other way: every `mt::name` and `Class::member` of a public class
that the reference mentions must exist (a stale name is an error).

Prints one line per header with its count, the missing and unknown names,
and a summary; exits 1 when something is missing or unknown. --list prints
every name found.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC_GLOBS = ["core/*.hpp", "notifier/*.hpp", "pipes/*.hpp", "nonblocking_io/*.hpp", "microthreading.hpp"]
C_HEADER = "core/microthreading.h"
REFERENCE = os.path.join(ROOT, "docs", "reference")


# ---- the C++ names, from clang's AST ---------------------------------------------------

def clang():
    for name in ("clang++", "clang++-14"):
        if shutil.which(name):
            return name
    sys.exit("check_reference: clang++ not found (apt-get install clang)")


def ast_objects(headers):
    """The top-level declarations whose qualified name contains mt:: (clang's
    -ast-dump-filter prints each as one JSON object, one after the other)."""
    with tempfile.TemporaryDirectory() as tmp:
        tu = os.path.join(tmp, "all.cpp")
        with open(tu, "w") as f:
            for h in headers:
                f.write('#include "%s"\n' % os.path.join(ROOT, h))
        out = subprocess.run([clang(), "-std=c++20", "-fsyntax-only", "-I", os.path.join(ROOT, "include"),
                              "-Xclang", "-ast-dump=json", "-Xclang", "-ast-dump-filter=mt::", tu],
                             capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("check_reference: the public headers do not compile with clang:\n" + out.stderr[-3000:])
    text, dec, i, objs = out.stdout, json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return objs
        obj, i = dec.raw_decode(text, i)
        objs.append(obj)


def public_header_of(obj):
    f = obj.get("loc", {}).get("file") or obj.get("range", {}).get("begin", {}).get("file")
    if not f:
        return None
    f = os.path.normpath(f.replace("/include/microthreading/", "/"))
    rel = os.path.relpath(f, ROOT)
    if rel.startswith("..") or "/detail/" in "/" + rel:
        return None
    for g in PUBLIC_GLOBS:
        if glob.fnmatch.fnmatch(rel, g):
            return rel
    return None


def is_copy_or_move(decl, cls):
    t = decl.get("type", {}).get("qualType", "")
    params = t[t.find("(") + 1: t.rfind(")")].strip()
    own = re.sub(r"<.*>", "", params).replace("mt::", "").replace("const ", "").strip()
    return own in (cls + " &", cls + " &&")


def members(record, cls):
    """Public members of a class definition, as names."""
    access = "private" if record.get("tagUsed") == "class" else "public"
    names = []
    for m in record.get("inner", []):
        kind = m["kind"]
        if kind == "AccessSpecDecl":
            access = m["access"]
            continue
        if access != "public" or m.get("isImplicit"):
            continue
        if kind in ("FriendDecl", "StaticAssertDecl", "UsingShadowDecl"):
            continue
        decl = m
        if kind == "FunctionTemplateDecl":
            decl = next((d for d in m.get("inner", []) if d["kind"].startswith("CXX")), m)
        if decl.get("explicitlyDefaulted") == "deleted" or decl.get("explicitlyDeleted"):
            continue
        name = re.sub(r"<.*>", "", m.get("name", ""))  # actor<State> -> actor
        if kind == "UsingDecl":
            name = name.split("::")[-1]
        if decl["kind"] == "CXXConstructorDecl" and is_copy_or_move(decl, cls):
            continue
        if name == "operator=":
            continue
        if not name:
            continue
        if kind == "EnumDecl":
            names.append(name)
            names += ["%s::%s" % (name, c["name"]) for c in m.get("inner", []) if c["kind"] == "EnumConstantDecl"]
            continue
        names.append(name)
    return names


def cpp_names():
    headers = sorted(h for g in PUBLIC_GLOBS for h in glob.glob(g, root_dir=ROOT))
    found = {}  # name -> header
    classes = set()
    for obj in ast_objects(headers):
        header = public_header_of(obj)
        kind, name = obj["kind"], obj.get("name")
        if not header or not name or name == "detail" or obj.get("isImplicit"):
            continue
        if kind == "NamespaceDecl":
            continue
        if kind in ("ClassTemplateSpecializationDecl", "ClassTemplatePartialSpecializationDecl"):
            continue  # fmt::formatter<mt::...>: another library's template, documented with what it formats
        record = obj
        if kind == "ClassTemplateDecl":
            record = next((d for d in obj.get("inner", []) if d["kind"] == "CXXRecordDecl"), None)
        if kind in ("CXXRecordDecl", "ClassTemplateDecl"):
            found.setdefault("mt::" + name, header)
            if record and record.get("completeDefinition"):
                found["mt::" + name] = header  # where it is defined, not forward-declared
                classes.add(name)
                for m in members(record, name):
                    found.setdefault("%s::%s" % (name, m), header)
            continue
        if kind == "EnumDecl":
            found.setdefault("mt::" + name, header)
            for c in obj.get("inner", []):
                if c["kind"] == "EnumConstantDecl":
                    found.setdefault("%s::%s" % (name, c["name"]), header)
            continue
        found.setdefault("mt::" + name, header)
    return found, classes


# ---- the C names, from a simple parse of the C header -----------------------------------

def c_names():
    text = open(os.path.join(ROOT, C_HEADER)).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    functions, others = [], []
    # prototypes: a return type, the name, "(" — not a typedef of a function pointer
    for m in re.finditer(r"^(?!typedef)[\w \*]*?\b(mt_\w+)\s*\(", text, re.M):
        functions.append(m.group(1))
    for m in re.finditer(r"typedef[^;{]*?\(\*\s*(mt_\w+)\)", text):
        others.append(m.group(1))
    for m in re.finditer(r"typedef struct (mt_\w+) (mt_\w+);", text):
        others.append(m.group(2))
    for m in re.finditer(r"typedef (?:struct|enum) (mt_\w+) \{(.*?)\} (mt_\w+);", text, re.S):
        name, body = m.group(3), m.group(2)
        others.append(name)
        if "enum" in m.group(0).split("{")[0]:
            others += re.findall(r"\b(MT_\w+)\s*=", body)
        else:
            for field in re.findall(r"(\w+)(?:\s*\)\s*\([^;]*\))?\s*;", body):
                others.append("%s.%s" % (name, field))
    others += re.findall(r"#define (MT_\w+)", text)
    return sorted(set(functions)), sorted(set(others) - {"MICROTHREADING_H"})


# ---- the reference -----------------------------------------------------------------------

def reference_text():
    pages = sorted(glob.glob(os.path.join(REFERENCE, "*.md")))
    if not pages:
        sys.exit("check_reference: no pages in docs/reference/")
    text = "\n".join(open(p).read() for p in pages)
    # template arguments do not count: micro_pipe<T>::put is micro_pipe::put
    prev = None
    while prev != text:
        prev = text
        text = re.sub(r"(\w)\s*<[^<>\n]*>", r"\1", text)
    return text


def mentioned(text, name):
    if name.startswith("mt::"):
        pattern = r"(?<![\w:])" + re.escape(name) + r"(?![\w])"
    else:
        pattern = r"(?<![\w])(?:mt::)?" + re.escape(name) + r"(?![\w])"
    return re.search(pattern, text) is not None


def main():
    listing = "--list" in sys.argv[1:]
    found, classes = cpp_names()
    text = reference_text()
    capi_path = os.path.join(REFERENCE, "capi.md")
    capi = open(capi_path).read() if os.path.exists(capi_path) else ""
    c_functions, c_others = c_names()

    missing = []
    per_header = {}
    for name, header in sorted(found.items()):
        per_header.setdefault(header, [0, 0])
        per_header[header][0] += 1
        if mentioned(text, name):
            per_header[header][1] += 1
        else:
            missing.append("%s (%s)" % (name, header))
        if listing:
            print("  %s  [%s]" % (name, header))
    headings = set(n for h in re.findall(r"^#+\s+(.*)$", capi, re.M) for n in re.findall(r"\b(mt_\w+)\b", h))
    c_doc = 0
    for f in c_functions:
        if f in headings:
            c_doc += 1
        else:
            missing.append("%s (%s: no heading names it in docs/reference/capi.md)" % (f, C_HEADER))
        if listing:
            print("  %s()  [%s]" % (f, C_HEADER))
    for n in c_others:
        if re.search(r"(?<![\w.])" + re.escape(n) + r"(?![\w])", capi):
            c_doc += 1
        else:
            missing.append("%s (%s)" % (n, C_HEADER))
        if listing:
            print("  %s  [%s]" % (n, C_HEADER))

    # the other way: names the reference gives that do not exist
    unknown = set()
    known_members = {n for n in found if not n.startswith("mt::")}

    def exists(cls, member):
        # constructors and destructors exist (copy and move ones are not
        # listed); `operator` is followed by what it converts to
        return member in (cls, "~" + cls, "operator") or "%s::%s" % (cls, member) in known_members

    for m in re.finditer(r"(?<![\w:])mt::(\w+)(?:::(~?\w+))?", text):
        top, member = m.group(1), m.group(2)
        if top == "detail":
            continue
        if "mt::" + top not in found:
            unknown.add("mt::" + top)
        elif member and top in classes and not exists(top, member):
            unknown.add("mt::%s::%s" % (top, member))
    for m in re.finditer(r"(?<![\w:])(\w+)::(~?\w+)", text):
        cls, member = m.group(1), m.group(2)
        if cls in classes and not exists(cls, member):
            unknown.add("%s::%s" % (cls, member))
    for m in re.finditer(r"(?<![\w.])(mt_[a-z]\w*)\s*\(", capi):
        if m.group(1) not in c_functions and m.group(1) not in c_others:
            unknown.add(m.group(1) + "()")

    for header, (n, ok) in sorted(per_header.items()):
        print("   %-32s %3d public names, %3d documented" % (header, n, ok))
    print("   %-32s %3d public names, %3d documented" % (C_HEADER, len(c_functions) + len(c_others), c_doc))
    cpp_members = sum(1 for n in found if not n.startswith("mt::"))
    total = len(found) + len(c_functions) + len(c_others)
    print("   %d public names: C++ %d (%d in namespace mt, %d members of its classes), C %d (%d functions, %d types, fields, codes and macros)"
          % (total, len(found), len(found) - cpp_members, cpp_members, len(c_functions) + len(c_others),
             len(c_functions), len(c_others)))
    for m in missing:
        print("   not documented: " + m)
    for u in sorted(unknown):
        print("   the reference names what does not exist: " + u)
    return 1 if missing or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
