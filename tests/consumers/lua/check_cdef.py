#!/usr/bin/python3
"""The LuaJIT consumer declares the part of the ABI it uses by hand
(ffi.cdef in hello.lua); nothing would notice if the header changed under
it. This compiles those declarations against the installed <turbo/turbo.h>:
a function declared with other types than the header's is a C compile
error ("conflicting types"), and so is a changed function-pointer typedef.
A struct the cdef defines (turbo_str) is compiled under another tag and
compared with the header's field by field: offset, type, and size.

usage: check_cdef.py PREFIX HELLO.lua
"""
import os
import re
import subprocess
import sys
import tempfile

prefix, script = sys.argv[1], sys.argv[2]
text = open(script).read()
m = re.search(r"ffi\.cdef\s*\[\[(.*?)\]\]", text, re.S)
if not m:
    sys.exit(f"{script}: no ffi.cdef [[ ... ]] block")
cdef = m.group(1)

checks = []


def struct_check(m):
    name, body = m.group(1), m.group(2)
    fields = [f.strip() for f in body.split(";") if f.strip()]
    out = [f"struct {name}__ffi {{{body}}};",
           f"_Static_assert(sizeof(struct {name}__ffi) == sizeof({name}), \"{name}: size\");"]
    for f in fields:
        field = re.findall(r"\w+", f)[-1]
        out.append(f"_Static_assert(offsetof(struct {name}__ffi, {field}) == offsetof({name}, {field}), "
                   f"\"{name}.{field}: offset\");")
        out.append(f"_Static_assert(__builtin_types_compatible_p(__typeof__(((struct {name}__ffi *)0)->{field}), "
                   f"__typeof__((({name} *)0)->{field})), \"{name}.{field}: type\");")
    checks.append(name)
    return "\n".join(out)


body = re.sub(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\1\s*;", struct_check, cdef, flags=re.S)
decls = len(re.findall(r"\bturbo_\w+\s*\(", body))
src = "#include <stddef.h>\n#include <turbo/turbo.h>\n/* hello.lua's ffi.cdef: */\n" + body
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "cdef_check.c")
    with open(path, "w") as f:
        f.write(src)
    cmd = ["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
           "-I" + os.path.join(prefix, "include"), path]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{script}: its ffi.cdef does not match <turbo/turbo.h>:\n{r.stderr}")
print(f"ok: {decls} function declarations and struct(s) {', '.join(checks)} of {os.path.basename(script)} "
      f"match the installed header")
