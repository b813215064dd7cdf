#!/usr/bin/env python3
"""Checks that docs/reference.md documents the whole public interface.

usage: python3 reference_complete.py LIBRARY.so HEADER REFERENCE.md

The public interface is the union of
  - every symbol the shared library exports (`nm -D --defined-only`; they
    are all turbo_* functions, tests/exported_symbols.sh sees to that), and
  - everything include/turbo/turbo.h declares: functions, typedefs
    (function-pointer typedefs included), struct and enum tags, enumerators
    and #define macros.

Every name in it must have an entry in the reference: a level-3 heading
that is exactly the name (`### turbo_route_add`, `### TURBO_OK`); a struct
or enum may also be written with its keyword (`### enum turbo_result`,
`### struct turbo_str`). A typedef and the struct tag it names
(`typedef struct turbo_str {...} turbo_str;`) are one entry.

Exempt, because they are not interface: TURBO_TURBO_H (the include guard)
and TURBO_API (the visibility attribute every declaration carries). They
may have an entry, but need none. See EXEMPT below.

Level-3 headings are reserved for entries: every `###` heading must name
something the header or the library still has, so an entry left behind
after a rename or a removal (a stale entry) fails, and so does an entry
written twice. Headings inside fenced code blocks are ignored.

Exit status: 0 when complete; 1 with a list of what is missing, stale or
duplicated; 2 for a usage error or an unreadable input.

Relative paths are taken from the current directory, or, when not found
there, from the repository root (two levels above this script), so the
ctest can run from either.
"""

import os
import re
import subprocess
import sys


def fail(message):
    """An input that cannot be read: exit status 2, not 1 (1 means the
    reference is incomplete)."""
    print(f"reference_complete: {message}", file=sys.stderr)
    sys.exit(2)


# Declared by the header but not interface (see the docstring).
EXEMPT = {"TURBO_TURBO_H", "TURBO_API"}

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def resolve(path):
    if os.path.isabs(path) or os.path.exists(path):
        return path
    alt = os.path.join(REPO_ROOT, path)
    return alt if os.path.exists(alt) else path


def exported_symbols(lib):
    """Defined dynamic symbols of the shared library."""
    try:
        out = subprocess.run(
            ["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        fail(f"cannot list the symbols of {lib}: {e}")
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # "ADDRESS TYPE NAME"; versioned names look like name@@VERSION.
        if len(parts) >= 3:
            names.add(parts[2].split("@")[0])
    if not names:
        fail(f"{lib} exports nothing (not the shared library?)")
    return names


def strip_comments(text):
    """C source without comments (string literals kept, newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j) or " ")
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def header_names(path):
    """Everything the header declares, as {name: kind}."""
    try:
        with open(path, encoding="utf-8") as f:
            src = strip_comments(f.read())
    except OSError as e:
        fail(f"cannot read {path}: {e}")
    names = {}

    # Macros (object-like and function-like).
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(" + IDENT + ")", src, re.M):
        names[m.group(1)] = "macro"

    # The rest is parsed without preprocessor lines.
    code = re.sub(r"^[ \t]*#.*$", "", src, flags=re.M)
    code = code.replace('extern "C" {', "")

    # Enums: the tag and every enumerator.
    for m in re.finditer(r"\benum\s+(" + IDENT + r")?\s*\{([^}]*)\}", code):
        if m.group(1):
            names[m.group(1)] = "enum"
        for item in m.group(2).split(","):
            item = item.strip()
            if item:
                em = re.match(IDENT, item)
                if em:
                    names[em.group(0)] = "enumerator"

    # Struct and union tags the header declares: defined with a body, named
    # by a typedef, or declared alone (`struct x;`). A tag merely used in a
    # parameter (`const struct sockaddr *`) is not the header's own.
    tag = r"\b(?:struct|union)\s+(" + IDENT + r")"
    for pat in (tag + r"\s*\{", r"\btypedef\s+" + tag, r"(?:^|[;}])\s*" + tag + r"\s*;"):
        for m in re.finditer(pat, code):
            names.setdefault(m.group(1), "struct")

    # Typedefs: split the file into top-level statements and look at each.
    depth, start = 0, 0
    statements = []
    for i, ch in enumerate(code):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 0:
            statements.append(code[start:i].strip())
            start = i + 1
    for st in statements:
        st = " ".join(st.split())
        if st.startswith("typedef "):
            fp = re.search(r"\(\s*\*\s*(" + IDENT + r")\s*\)\s*\(", st)
            if fp:
                names[fp.group(1)] = "typedef"
            else:
                body = re.sub(r"\{.*\}", " ", st)  # drop a struct/enum body
                tm = re.search(r"(" + IDENT + r")\s*(?:\[[^\]]*\])?\s*$", body)
                if tm:
                    names[tm.group(1)] = "typedef"
            continue
        # Function declarations: NAME( at the top level, not a pointer typedef.
        fm = re.search(r"(" + IDENT + r")\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$", st)
        if fm and not st.startswith(("enum ", "struct ", "union ")):
            names[fm.group(1)] = "function"
    return names


def reference_headings(path):
    """The `### ` headings outside fenced code blocks: [(line, name)]."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail(f"cannot read {path}: {e}")
    found = []
    fence = None
    for no, line in enumerate(lines, 1):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker):].strip():
                fence = None
            continue
        if fence is not None:
            continue
        h = re.match(r"^###\s+(.*?)\s*#*\s*$", line)
        if h and not line.startswith("####"):
            text = h.group(1).strip().strip("`").strip()
            km = re.fullmatch(r"(?:(?:enum|struct|union)\s+)?(" + IDENT + r")", text)
            found.append((no, km.group(1) if km else text))
    return found


def main(argv):
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    lib, header, reference = (resolve(p) for p in argv[1:])

    exported = exported_symbols(lib)
    declared = header_names(header)
    known = set(exported) | set(declared)
    required = known - EXEMPT

    headings = reference_headings(reference)
    seen = {}
    problems = []
    for no, name in headings:
        if name in seen:
            problems.append(f"{reference}:{no}: duplicate entry '### {name}' (first at line {seen[name]})")
            continue
        seen[name] = no
        if name not in known:
            problems.append(
                f"{reference}:{no}: stale entry '### {name}': neither {header} declares it nor {lib} exports it"
            )

    for name in sorted(required - set(seen)):
        where = []
        if name in declared:
            where.append(f"{declared[name]} in {header}")
        if name in exported:
            where.append(f"exported by {os.path.basename(lib)}")
        problems.append(f"missing entry '### {name}' ({', '.join(where)})")

    undeclared = sorted(exported - set(declared))
    for name in undeclared:
        # Documenting it is required above; say why it is odd, too.
        problems.append(f"note: {name} is exported by {os.path.basename(lib)} but not declared in {header}")

    if problems:
        print(f"reference_complete: {reference} does not match the interface:")
        for p in problems:
            print("  " + p)
        return 1
    print(
        f"reference_complete: {len(required)} names, each documented once in {reference} "
        f"({len(exported)} exported functions, {len(declared)} header declarations; "
        f"exempt: {', '.join(sorted(EXEMPT))})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
