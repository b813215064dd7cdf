#!/usr/bin/python3
"""The Rust consumer declares the part of the ABI it uses by hand (its
`extern "C"` block, with no bindgen); nothing would notice if turbo.h
changed under it. This compares that Rust with the header, declaration by
declaration, and names every mismatch:

  - each fn of the extern block must be a function of the header, with as
    many parameters, each of the same C type, and the same return type;
  - a `#[repr(C)]` struct (turbo_str) must have the C struct's fields, in
    order, with the same names and types;
  - a type alias named after a C typedef (TurboHandler: turbo_handler)
    must be the same function pointer;
  - each TURBO_* constant must be an int with the header's value (enum
    constant or #define);
  - every other type named in the extern block must be a C type of the
    header (opaque handles: TurboServer is turbo_server).

Rust names map to C ones by case: TurboServer <-> turbo_server. Types are
compared as C types: `*const c_char` is `const char *`, `*mut X` is `X *`,
`usize` is `size_t`, `c_int` (or i32) is `int`, `u64` is `uint64_t`, an
`extern "C" fn(..) -> c_int` (or an Option of one) is a pointer to that
function. The header's style is regular (one prototype per declaration,
`TURBO_API` before each); what this script cannot parse is an error, not a
silent pass.

usage: check_extern.py TURBO_H MAIN_RS
"""
import copy
import re
import sys

# ---------------------------------------------------------------------------
# Types, as C sees them


class CType:
    """base: a C type name ("int", "turbo_server"); ptr: pointer to
    `target`; fn: pointer to a function (`ret`, `params`). `const`
    qualifies the type itself: `const char *` is ptr(base char, const),
    `char *const *` is ptr(ptr(base char) const)."""

    def __init__(self, kind, name=None, const=False, target=None, ret=None, params=None):
        self.kind, self.name, self.const = kind, name, const
        self.target, self.ret, self.params = target, ret, params

    def __eq__(self, other):
        return str(self) == str(other)

    def __str__(self):
        if self.kind == "base":
            return ("const " if self.const else "") + self.name
        if self.kind == "ptr":
            inner = str(self.target)
            return inner + ("*" if inner.endswith("*") else " *") + (" const" if self.const else "")
        return "%s (*)(%s)" % (self.ret, ", ".join(str(p) for p in self.params) or "void")


def base(name, const=False):
    return CType("base", name=name, const=const)


VOID = base("void")

# The C spellings that are the same type here (Linux, LP64).
C_SYNONYMS = {
    "unsigned": "unsigned int",
    "signed": "int",
    "signed int": "int",
    "int32_t": "int",
    "uint32_t": "unsigned int",
    "long int": "long",
    "unsigned long int": "unsigned long",
}

# Rust primitive -> C type name.
RUST_PRIMITIVES = {
    "c_void": "void",
    "c_char": "char",
    "c_schar": "signed char",
    "c_uchar": "unsigned char",
    "c_short": "short",
    "c_ushort": "unsigned short",
    "c_int": "int",
    "i32": "int",
    "c_uint": "unsigned int",
    "u32": "unsigned int",
    "c_long": "long",
    "c_ulong": "unsigned long",
    "c_longlong": "long long",
    "c_ulonglong": "unsigned long long",
    "usize": "size_t",
    "isize": "ssize_t",
    "u8": "uint8_t",
    "i8": "int8_t",
    "u16": "uint16_t",
    "i16": "int16_t",
    "u64": "uint64_t",
    "i64": "int64_t",
    "f32": "float",
    "f64": "double",
    "bool": "_Bool",
}

# Rust integer types a TURBO_* constant may have (the header's are int).
INT_TYPES = {"c_int", "i32"}


def snake(name):
    """TurboServer -> turbo_server; turbo_server stays."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class Mismatch(Exception):
    pass


# ---------------------------------------------------------------------------
# The header


def strip_c_comments(text):
    # Keeps newlines, so that offsets still give line numbers.
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def int_literal(text):
    text = text.strip().replace("_", "")
    m = re.fullmatch(r"([-+]?)\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", text)
    if not m:
        return None
    value = int(m.group(2), 0)
    return -value if m.group(1) == "-" else value


class Header:
    def __init__(self, path):
        self.path = path
        self.text = strip_c_comments(open(path).read())
        # Declarations without the preprocessor lines (TURBO_API's own
        # #define among them).
        self.decls = re.sub(r"^[ \t]*#[^\n]*", "", self.text, flags=re.M)
        self.typedefs = {}  # name -> CType (function pointer typedefs)
        self.structs = {}  # name -> [(field, CType)], or None when incomplete
        self.functions = {}  # name -> (ret, [params])
        self.constants = {}  # name -> int
        self.parse()

    def parse(self):
        t = self.text
        for m in re.finditer(r"^\s*#\s*define\s+(TURBO_\w+)[ \t]+([^\n]+)$", t, re.M):
            value = int_literal(m.group(2))
            if value is not None:
                self.constants[m.group(1)] = value
        t = self.decls
        for m in re.finditer(r"\benum\s+\w*\s*\{(.*?)\}\s*;", t, re.S):
            value = -1
            for entry in m.group(1).split(","):
                if not entry.strip():
                    continue
                em = re.fullmatch(r"\s*(\w+)\s*(?:=\s*(.+?))?\s*", entry, re.S)
                if not em:
                    raise Mismatch(f"{self.path}: cannot read enum entry {entry.strip()!r}")
                if em.group(2) is None:
                    value += 1
                else:
                    value = int_literal(em.group(2))
                    if value is None:
                        raise Mismatch(f"{self.path}: {em.group(1)}: not an integer: {em.group(2)}")
                self.constants[em.group(1)] = value
        for m in re.finditer(r"\btypedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", t, re.S):
            fields = []
            for decl in m.group(2).split(";"):
                if decl.strip():
                    fields.append(self.c_decl(decl))
            self.structs[m.group(1)] = fields
            self.structs.setdefault(m.group(3), fields)
        for m in re.finditer(r"\btypedef\s+struct\s+(\w+)\s+(\w+)\s*;", t):
            self.structs.setdefault(m.group(1), None)
            self.structs.setdefault(m.group(2), None)
        for m in re.finditer(r"\btypedef\s+([^;{}()]+?)\(\s*\*\s*(\w+)\s*\)\s*\(([^;]*?)\)\s*;", t):
            self.typedefs[m.group(2)] = CType(
                "fn", ret=self.c_type(m.group(1)), params=self.c_params(m.group(3))
            )
        for m in re.finditer(r"\bTURBO_API\s+([^;]+?)\s*;", t, re.S):
            fm = re.fullmatch(r"(.+?)\b(\w+)\s*\((.*)\)", m.group(1), re.S)
            if not fm:
                raise Mismatch(f"{self.path}: cannot read the prototype {m.group(1)!r}")
            self.functions[fm.group(2)] = (self.c_type(fm.group(1)), self.c_params(fm.group(3)))

    def c_params(self, text):
        text = " ".join(text.split())
        if text in ("", "void"):
            return []
        return [self.c_decl(p)[1] for p in text.split(",")]

    def c_decl(self, text):
        """'const turbo_request *r' -> ('r', CType)."""
        tokens = re.findall(r"\w+|\*", text)
        last = tokens[-1] if tokens else ""
        named = len(tokens) >= 2 and re.fullmatch(r"\w+", last)
        if named and not self.is_type_word(last, tokens[:-1]):
            return tokens[-1], self.c_type(" ".join(tokens[:-1]))
        return None, self.c_type(" ".join(tokens))

    @staticmethod
    def is_type_word(word, before):
        """Whether `word`, after `before`, is still part of the type (as in
        `unsigned int`) rather than a parameter name."""
        return word in ("int", "char", "long", "short") and before and before[-1] != "*"

    def c_type(self, text):
        tokens = re.findall(r"\w+|\*", text)
        tokens = [tok for tok in tokens if tok not in ("TURBO_API", "struct", "enum")]
        if not tokens:
            raise Mismatch(f"{self.path}: no type in {text!r}")
        stars = [i for i, tok in enumerate(tokens) if tok == "*"]
        head = tokens[: stars[0]] if stars else tokens
        const = "const" in head
        name = " ".join(tok for tok in head if tok not in ("const", "volatile"))
        name = C_SYNONYMS.get(name, name)
        ty = copy.deepcopy(self.typedefs[name]) if name in self.typedefs else base(name, const)
        for tok in tokens[len(head) :]:
            if tok == "*":
                ty = CType("ptr", target=ty)
            elif tok == "const":
                ty.const = True
            else:
                raise Mismatch(f"{self.path}: cannot read the type {text!r}")
        if ty.kind == "ptr":
            ty.const = False  # `T *const p`: the same parameter type as `T *p`
        return ty


# ---------------------------------------------------------------------------
# The Rust


def strip_rust_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def split_top(text, sep=","):
    """Splits at `sep` outside (), <> and []."""
    parts, depth, cur, i = [], 0, "", 0
    while i < len(text):
        ch = text[i]
        if text.startswith("->", i):
            cur += "->"
            i += 2
            continue
        if ch in "(<[":
            depth += 1
        elif ch in ")>]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def matching(text, start, open_ch, close_ch):
    """Index of the bracket closing the one at `start`."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
    raise Mismatch(f"unbalanced {open_ch}{close_ch}")


class Rust:
    def __init__(self, path):
        self.path = path
        self.text = strip_rust_comments(open(path).read())
        self.aliases = {}  # name -> (line, type text)
        self.structs = {}  # name -> (line, repr_c, [(field, type text)])
        self.opaque = {}  # name -> line (a type made by a macro: opaque!(Name))
        self.constants = {}  # name -> (line, type text, value text)
        self.functions = []  # (line, name, [(param, type text)], return type text)
        self.parse()

    def line(self, offset):
        return self.text.count("\n", 0, offset) + 1

    def parse(self):
        t = self.text
        for m in re.finditer(r"\btype\s+(\w+)\s*=\s*([^;]+);", t):
            self.aliases[m.group(1)] = (self.line(m.start()), " ".join(m.group(2).split()))
        attrs = r"((?:#\[[^\]]*\]\s*)*)"
        for m in re.finditer(attrs + r"(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)\s*\{", t):
            if "$" in m.group(0):
                continue
            end = matching(t, m.end() - 1, "{", "}")
            fields = []
            for f in split_top(t[m.end() : end]):
                fm = re.fullmatch(r"(?:pub(?:\([^)]*\))?\s+)?(\w+)\s*:\s*(.+)", f, re.S)
                if not fm:
                    raise Mismatch(f"{self.path}:{self.line(m.start())}: cannot read field {f!r}")
                fields.append((fm.group(1), " ".join(fm.group(2).split())))
            repr_c = re.search(r"#\[repr\(\s*C\b", m.group(1)) is not None
            self.structs[m.group(2)] = (self.line(m.start(2)), repr_c, fields)
        for m in re.finditer(r"^\s*\w+!\s*\(\s*(\w+)\s*\)\s*;", t, re.M):
            self.opaque[m.group(1)] = self.line(m.start(1))
        for m in re.finditer(r"\bconst\s+(TURBO_\w+)\s*:\s*([^=]+?)\s*=\s*([^;]+);", t):
            self.constants[m.group(1)] = (self.line(m.start()), m.group(2).strip(), m.group(3))
        blocks = list(re.finditer(r"\bextern\s*(\"C\")?\s*\{", t))
        if not blocks:
            raise Mismatch(f'{self.path}: no extern "C" block')
        for m in blocks:
            if m.group(1) is None:
                raise Mismatch(f'{self.path}:{self.line(m.start())}: an extern block without "C"')
            end = matching(t, m.end() - 1, "{", "}")
            body = t[m.end() : end]
            others = re.sub(r"(?:pub(?:\([^)]*\))?\s+)?fn\s+\w+\s*\([^;]*;", "", body)
            others = re.sub(r"#\[[^\]]*\]", "", others).strip()
            if others:
                raise Mismatch(f"{self.path}:{self.line(m.start())}: in the extern block, "
                               f"not a fn: {others.splitlines()[0]!r}")
            for fm in re.finditer(r"(?:pub(?:\([^)]*\))?\s+)?fn\s+(\w+)\s*\(", body):
                close = matching(body, fm.end() - 1, "(", ")")
                rest = re.match(r"\s*(?:->\s*([^;]+?))?\s*;", body[close + 1 :])
                if not rest:
                    line = self.line(m.end() + fm.start())
                    raise Mismatch(f"{self.path}:{line}: cannot read fn {fm.group(1)}")
                params = []
                for p in split_top(body[fm.end() : close]):
                    pm = re.fullmatch(r"(\w+)\s*:\s*(.+)", p, re.S)
                    if not pm:
                        raise Mismatch(f"{self.path}: {fm.group(1)}: cannot read parameter {p!r}")
                    params.append((pm.group(1), " ".join(pm.group(2).split())))
                ret = " ".join((rest.group(1) or "()").split())
                self.functions.append((self.line(m.end() + fm.start()), fm.group(1), params, ret))

    def c_type(self, text, seen=()):
        """The C type a Rust type is, resolving aliases; raises Mismatch for
        a type with no C counterpart."""
        text = text.strip()
        m = re.fullmatch(r"\*\s*(const|mut)\s+(.+)", text, re.S)
        if m:
            target = self.c_type(m.group(2), seen)
            if target.kind == "fn":
                raise Mismatch(f"{text}: a pointer to a function pointer")
            target.const = m.group(1) == "const"
            return CType("ptr", target=target)
        m = re.fullmatch(r"Option\s*<(.+)>", text, re.S)
        if m:
            inner = self.c_type(m.group(1), seen)
            if inner.kind != "fn":
                raise Mismatch(f"{text}: only Option<fn> has a C type")
            return inner
        m = re.match(r"(?:unsafe\s+)?extern\s*(\"C\")?\s*fn\s*\(", text)
        if m:
            if m.group(1) is None:
                raise Mismatch(f'{text}: not an extern "C" fn')
            close = matching(text, m.end() - 1, "(", ")")
            rest = re.fullmatch(r"\s*(?:->\s*(.+))?", text[close + 1 :], re.S)
            if not rest:
                raise Mismatch(f"cannot read the fn type {text}")
            params = []
            for p in split_top(text[m.end() : close]):
                pm = re.fullmatch(r"(?:\w+\s*:\s*)?(.+)", p, re.S)
                params.append(self.c_type(pm.group(1), seen))
            return CType("fn", ret=self.c_type(rest.group(1) or "()", seen), params=params)
        if re.fullmatch(r"\(\s*\)", text):
            return VOID
        m = re.fullmatch(r"(?:\w+::)*(\w+)", text)
        if not m:
            raise Mismatch(f"no C type for the Rust type {text}")
        name = m.group(1)
        if name in RUST_PRIMITIVES:
            return base(RUST_PRIMITIVES[name])
        if name in self.aliases:
            if name in seen:
                raise Mismatch(f"type alias {name} refers to itself")
            return self.c_type(self.aliases[name][1], seen + (name,))
        if name in self.structs or name in self.opaque:
            return base(snake(name))
        raise Mismatch(f"the type {name} is not declared in {self.path}")


# ---------------------------------------------------------------------------
# The comparison


def check(header_path, rust_path):
    """The mismatches, as messages; the counts of what was compared."""
    header = Header(header_path)
    rust = Rust(rust_path)
    where = rust_path.rsplit("/", 1)[-1]
    errors = []

    def err(line, msg):
        errors.append(f"{where}:{line}: {msg}")

    def c_of(line, what, text):
        try:
            return rust.c_type(text)
        except Mismatch as e:
            err(line, f"{what}: {e}")
            return None

    # Types named by the extern block: known to the header, and any struct
    # passed by value is a #[repr(C)] struct with the header's fields.
    by_value = set()

    def note(ty):
        if ty is None:
            return
        if ty.kind == "base" and ty.name not in RUST_PRIMITIVES.values():
            by_value.add(ty.name)
        if ty.kind == "fn":
            for p in ty.params + [ty.ret]:
                note(p)

    def named(ty, line, what):
        if ty is None:
            return
        if ty.kind == "ptr":
            return named(ty.target, line, what)
        if ty.kind == "fn":
            for p in ty.params + [ty.ret]:
                named(p, line, what)
            return
        if ty.name not in RUST_PRIMITIVES.values() and ty.name not in header.structs:
            err(line, f"{what}: {ty.name} is not a type of {header_path}")

    for line, name, params, ret in rust.functions:
        if name not in header.functions:
            err(line, f"fn {name}: not a function of {header_path}")
            continue
        c_ret, c_params = header.functions[name]
        rust_ret = c_of(line, f"fn {name}: return type", ret)
        rust_params = [c_of(line, f"fn {name}: parameter {p}", ty) for p, ty in params]
        for ty in rust_params + [rust_ret]:
            named(ty, line, f"fn {name}")
            note(ty)
        if len(params) != len(c_params):
            err(line, f"fn {name}: {len(params)} parameters, the header's has {len(c_params)}: "
                      f"({', '.join(str(p) for p in c_params) or 'void'})")
        else:
            for i, ((pname, text), rty, cty) in enumerate(zip(params, rust_params, c_params)):
                if rty is not None and rty != cty:
                    err(line, f"fn {name}: parameter {i + 1} ({pname}: {text}) is `{rty}`, "
                              f"the header's is `{cty}`")
        if rust_ret is not None and rust_ret != c_ret:
            err(line, f"fn {name}: returns {ret} (`{rust_ret}`), the header's returns `{c_ret}`")

    for rname, (line, repr_c, fields) in rust.structs.items():
        cname = snake(rname)
        if cname not in header.structs or cname not in by_value:
            continue  # not a type of the ABI, or used only behind pointers
        c_fields = header.structs[cname]
        if c_fields is None:
            err(line, f"struct {rname}: {cname} is incomplete in the header; "
                      "it cannot be passed by value")
            continue
        if not repr_c:
            err(line, f"struct {rname}: not #[repr(C)], so its layout is not {cname}'s")
        rust_fields = [(f, c_of(line, f"struct {rname}.{f}", ty), ty) for f, ty in fields]
        if len(rust_fields) != len(c_fields):
            err(line, f"struct {rname}: {len(rust_fields)} fields, {cname} has {len(c_fields)}: "
                      + "; ".join(f"{ty} {f}" for f, ty in c_fields))
            continue
        for (f, rty, text), (cf, cty) in zip(rust_fields, c_fields):
            if f != cf:
                err(line, f"struct {rname}: field {f}, {cname}'s is {cf} at that place")
            if rty is not None and rty != cty:
                err(line, f"struct {rname}.{f}: {text} (`{rty}`), {cname}.{cf} is `{cty}`")
    for cname in sorted(by_value):
        if cname in header.structs and not any(snake(r) == cname for r in rust.structs):
            line = next((ln for r, ln in rust.opaque.items() if snake(r) == cname), 1)
            err(line, f"{cname} is passed by value, but Rust declares it without fields")

    for rname, (line, text) in rust.aliases.items():
        cname = snake(rname)
        if cname in header.typedefs:
            rty = c_of(line, f"type {rname}", text)
            if rty is not None and rty != header.typedefs[cname]:
                err(line, f"type {rname} is `{rty}`, "
                          f"the header's {cname} is `{header.typedefs[cname]}`")

    for cname, (line, ty, value) in rust.constants.items():
        if cname not in header.constants:
            err(line, f"const {cname}: not a constant of {header_path}")
            continue
        if ty.split("::")[-1] not in INT_TYPES:
            err(line, f"const {cname}: {ty}, the header's is an int (c_int)")
        v = int_literal(value)
        if v is None:
            err(line, f"const {cname}: cannot read the value {value!r}")
        elif v != header.constants[cname]:
            err(line, f"const {cname} = {v}, the header's is {header.constants[cname]}")

    counts = (len(rust.functions), sum(1 for r in rust.structs if snake(r) in by_value),
              sum(1 for r in rust.aliases if snake(r) in header.typedefs), len(rust.constants))
    return errors, counts


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    header_path, rust_path = sys.argv[1], sys.argv[2]
    try:
        errors, counts = check(header_path, rust_path)
    except Mismatch as e:
        sys.exit(f"check_extern: {e}")
    if errors:
        print(f"{rust_path}: its declarations do not match {header_path}:", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print("ok: %d functions, %d struct(s), %d function pointer type(s) and %d constants of %s "
          "match %s" % (counts + (rust_path.rsplit("/", 1)[-1], header_path)))


if __name__ == "__main__":
    main()
