#!/usr/bin/python3
"""Checks every fenced code block of the project's Markdown documents.

usage: check_docs.py --repo DIR --build DIR --stage PREFIX [DOC.md ...]

Rules (tests/docs/README.md): a block's info string is a language word and
optional key=value attributes. `c` blocks are compiled (and linked when they
define main), `python` blocks run, `console` sessions run with their output
compared byte for byte, `sh` blocks parsed and their commands resolved,
`LANG source=PATH test=NAME` blocks compared with the file they show, `text`
left alone. Anything else is an error. Relative links must name existing
files and headings. Every failure names DOC:LINE.
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FENCE = re.compile(r"^(\s*)(`{3,})(.*)$")
URL = re.compile(r"https?://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(\d+)")
MAIN = re.compile(r"\bint\s+main\s*\(")


class Block:
    def __init__(self, doc, line, lang, attrs, text):
        self.doc, self.line, self.lang, self.attrs, self.text = doc, line, lang, attrs, text

    def where(self):
        return f"{self.doc}:{self.line}"


class Failure(Exception):
    pass


def parse_blocks(path, rel):
    """Yields the fenced blocks of one Markdown file."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, info = len(m.group(1)), m.group(2), m.group(3).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines):
            close = FENCE.match(lines[i])
            if close and len(close.group(2)) >= len(ticks) and close.group(3).strip() == "":
                break
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        else:
            raise Failure(f"{rel}:{start}: code block never closed")
        i += 1
        words = info.split()
        lang = words[0] if words else ""
        attrs = {}
        for w in words[1:]:
            if "=" not in w:
                raise Failure(f"{rel}:{start}: attribute '{w}' is not key=value")
            k, v = w.split("=", 1)
            attrs[k] = v
        yield Block(rel, start, lang, attrs, "\n".join(body) + "\n")


class Checker:
    def __init__(self, args):
        self.repo = os.path.abspath(args.repo)
        self.build = os.path.abspath(args.build)
        self.stage = os.path.abspath(args.stage)
        self.ctests = self._ctest_names()
        self.bg = []
        self.counts = {}

    # -- environment --------------------------------------------------------

    def _ctest_names(self):
        out = subprocess.run(["ctest", "-N"], cwd=self.build, capture_output=True, text=True,
                             check=True).stdout
        return set(re.findall(r"Test\s+#\d+: (\S+)", out))

    def env_for(self, scratch):
        """The environment of a reader who ran `cmake --install` into the
        staged prefix and has the Python binding built."""
        bindir = os.path.join(scratch, ".bin")
        os.makedirs(bindir, exist_ok=True)
        links = {"python3": "/usr/bin/python3", "python": "/usr/bin/python3"}
        for name in ("turbo-serve", "turbo-mixed"):
            found = glob.glob(os.path.join(self.build, "bindings", "python", name)) + \
                glob.glob(os.path.join(self.build, "bindings", "python", "examples", name))
            if found:
                links[name] = found[0]
        for name, target in links.items():
            dst = os.path.join(bindir, name)
            if not os.path.lexists(dst):
                os.symlink(target, dst)
        env = dict(os.environ)
        env["PATH"] = ":".join([bindir, os.path.join(self.stage, "bin"), "/usr/local/sbin",
                                "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        env["PKG_CONFIG_PATH"] = os.path.join(self.stage, "lib", "pkgconfig")
        env["LD_LIBRARY_PATH"] = os.path.join(self.stage, "lib")
        env["PYTHONPATH"] = os.path.join(self.build, "bindings", "python")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("LD_PRELOAD", None)
        return env

    def pkg_config(self, env, *flags):
        r = subprocess.run(["pkg-config", *flags, "turbo"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"pkg-config {' '.join(flags)} turbo failed: {r.stderr.strip()}")
        return shlex.split(r.stdout)

    # -- one document -------------------------------------------------------

    def check_doc(self, path):
        rel = os.path.relpath(path, self.repo)
        check_links(path, rel)
        blocks = list(parse_blocks(path, rel))
        if not blocks:
            return
        scratch = tempfile.mkdtemp(prefix="turbo-docs-")
        env = self.env_for(scratch)
        try:
            for b in blocks:
                handler = getattr(self, "block_" + b.lang.replace("-", "_"), None)
                if "source" in b.attrs:
                    handler = self.block_source
                if b.lang == "" or handler is None:
                    raise Failure(f"{b.where()}: a code block must start with a known language "
                                  f"(c, python, console, sh, text, or LANG source=PATH test=NAME); "
                                  f"got '{b.lang}'")
                handler(b, scratch, env)
                kind = "source" if handler == self.block_source else b.lang
                self.counts[kind] = self.counts.get(kind, 0) + 1
        finally:
            self.stop_background(quiet=True)
            shutil.rmtree(scratch, ignore_errors=True)

    # -- block kinds ---------------------------------------------------------

    def block_text(self, b, scratch, env):
        pass

    def block_c(self, b, scratch, env):
        name = b.attrs.get("file")
        if name is None:
            src = os.path.join(scratch, f"block{b.line}.c")
        else:
            if not name.endswith(".c") or "/" in name:
                raise Failure(f"{b.where()}: file= must be a plain NAME.c")
            src = os.path.join(scratch, name)
        with open(src, "w") as f:
            f.write(b.text)
        cflags = self.pkg_config(env, "--cflags")
        cmd = ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", *cflags, src]
        if MAIN.search(b.text):
            out = src[:-2] if name else src[:-2] + ".out"
            cmd += ["-o", out, *self.pkg_config(env, "--libs")]
        else:
            cmd += ["-c", "-o", src[:-2] + ".o"]
        r = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"{b.where()}: the C block does not compile:\n$ {' '.join(cmd)}\n{r.stderr}")

    def block_python(self, b, scratch, env):
        name = b.attrs.get("file")
        src = os.path.join(scratch, name if name else f"block{b.line}.py")
        with open(src, "w") as f:
            f.write(b.text)
        if name:
            cmd = ["/usr/bin/python3", "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", src]
        else:
            cmd = ["/usr/bin/python3", src]
        try:
            r = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            raise Failure(f"{b.where()}: the Python block did not finish within 30 s")
        if r.returncode != 0:
            raise Failure(f"{b.where()}: the Python block failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")

    def block_console(self, b, scratch, env):
        steps = []  # (line, command, [expected lines])
        cmd = None
        lines = b.text.rstrip("\n").split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                start = b.line + 1 + i
                cmd = line[2:]
                while cmd.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    cmd = cmd + "\n" + lines[i]  # bash joins backslash-newline
                steps.append((start, cmd, []))
            elif not steps:
                raise Failure(f"{b.where()}: a console block starts with a '$ ' command")
            else:
                steps[-1][2].append(line)
            i += 1
        for n, (line, command, expected) in enumerate(steps):
            where = f"{b.doc}:{line}"
            if command.rstrip().endswith("&"):
                if expected:
                    raise Failure(f"{where}: a background command cannot have expected output")
                log = open(os.path.join(scratch, f"bg{line}.log"), "w+")
                p = subprocess.Popen(["bash", "-c", "exec " + command.rstrip()[:-1]], cwd=scratch,
                                     env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
                self.bg.append((where, command, p, log))
                continue
            m = URL.search(command)
            if m and self.bg:
                self.wait_for_port(where, m.group(1).strip("[]"), int(m.group(2)))
            try:
                r = subprocess.run(["bash", "-c", "set -o pipefail\n" + command], cwd=scratch, env=env,
                                   capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired:
                raise Failure(f"{where}: '{command}' did not finish within 120 s")
            if r.returncode != 0:
                raise Failure(f"{where}: '{command}' exited {r.returncode}:\n{r.stdout}{r.stderr}")
            got = r.stdout.rstrip("\n").split("\n") if r.stdout.rstrip("\n") else []
            if not lines_match(expected, got):
                raise Failure(f"{where}: '{command}' printed\n" + "\n".join(got) +
                              "\n--- but the document says\n" + "\n".join(expected))
        self.stop_background()

    def wait_for_port(self, where, host, port):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for w, command, p, log in self.bg:
                if p.poll() is not None:
                    log.seek(0)
                    raise Failure(f"{w}: '{command}' exited {p.returncode} before serving:\n{log.read()}")
            try:
                with socket.create_connection((host, port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise Failure(f"{where}: nothing accepted connections on {host}:{port} within 20 s")

    def stop_background(self, quiet=False):
        """Ends a session's background commands: SIGTERM, and each must exit
        with 0 (it handled the signal) or by the signal itself."""
        failures = []
        for where, command, p, log in self.bg:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    failures.append(f"{where}: '{command}' did not stop within 15 s of SIGTERM")
                    continue
            if p.returncode not in (0, -signal.SIGTERM):
                log.seek(0)
                failures.append(f"{where}: '{command}' exited {p.returncode} after SIGTERM:\n{log.read()}")
            log.close()
        self.bg = []
        if failures and not quiet:
            raise Failure("\n".join(failures))

    SH_WRAPPERS = {"sudo", "env", "time", "exec", "command", "nohup"}
    SH_BUILTINS = {"cd", "export", "for", "do", "done", "if", "then", "else", "fi", "while",
                   "set", "echo", "source", ".", "[", "test", "wait", "kill", "trap", "true",
                   "false", "read", "unset", "ulimit", "printf", "case", "esac", "in"}

    def block_sh(self, b, scratch, env):
        r = subprocess.run(["bash", "-n"], input=b.text, capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"{b.where()}: the shell block does not parse:\n{r.stderr}")
        text = re.sub(r"\\\n", " ", b.text)
        done = ""  # the block's lines before this one
        for raw in text.split("\n"):
            line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
            if not line.strip():
                continue
            # command substitutions: their commands are checked, and each
            # stands for one word of the enclosing command
            for sub in re.findall(r"\$\(([^()]*)\)", line):
                self.check_line(b, sub, done)
            line = re.sub(r"\$\([^()]*\)", "SUBST", line)
            self.check_line(b, line, done)
            done += raw + "\n"

    def check_line(self, b, line, done):
        lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lex.whitespace_split = True
        self.check_tokens(b, list(lex), done)

    # wrapper -> how many arguments its options take before the command
    SH_OPTION_ARGS = {"nice": {"-n": 1}, "taskset": {"-c": 1}, "timeout": {"-s": 1, "-k": 1}}

    def check_tokens(self, b, tokens, done):
        """Resolves the command word of every simple command in tokens."""
        k, at_start = 0, True
        while k < len(tokens):
            tok = tokens[k]
            if tok and all(c in ";&|()" for c in tok):
                at_start = True
                k += 1
                continue
            if tok and all(c in "<>" for c in tok):
                k += 2  # a redirection and its target
                continue
            if not at_start:
                k += 1
                continue
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tok) or tok in self.SH_WRAPPERS:
                k += 1
                continue
            if tok in self.SH_OPTION_ARGS:
                self.resolve_command(b, tok, done)
                opts = self.SH_OPTION_ARGS[tok]
                k += 1
                while k < len(tokens) and tokens[k].startswith("-"):
                    k += 1 + opts.get(tokens[k], 0)
                if tok == "timeout":
                    k += 1  # the duration
                continue
            self.resolve_command(b, tok, done)
            at_start = False
            k += 1

    def resolve_command(self, b, word, done):
        if word in self.SH_BUILTINS:
            return
        if "/" in word:
            first = word.split("/")[0]
            if first.startswith("build") or word.startswith("/tmp/") or \
                    (first and re.search(r"(^|[\s=/])" + re.escape(first) + r"($|[\s/])", done)):
                return  # made by the block's earlier lines (or a build step)
            path = word if os.path.isabs(word) else os.path.join(self.repo, word)
            if not os.path.exists(path):
                raise Failure(f"{b.where()}: the shell block runs '{word}', which does not exist")
            return
        path = ":".join(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
                         os.path.join(self.stage, "bin")])
        if shutil.which(word, path=path) is None and word not in ("turbo-serve", "turbo-mixed", "cargo"):
            raise Failure(f"{b.where()}: the shell block runs '{word}', which is not installed here "
                          f"(scripts/install-deps.sh installs what the docs use)")

    def block_source(self, b, scratch, env):
        path, test = b.attrs.get("source"), b.attrs.get("test")
        if test is None:
            raise Failure(f"{b.where()}: source= needs test=NAME, the ctest that exercises {path}")
        full = os.path.join(self.repo, path)
        if not os.path.isfile(full):
            raise Failure(f"{b.where()}: source={path} does not exist")
        if test not in self.ctests:
            raise Failure(f"{b.where()}: test={test} is not a ctest of this build")
        shown = b.text.rstrip("\n").split("\n")
        have = open(full, encoding="utf-8").read().rstrip("\n").split("\n")
        for s in range(len(have) - len(shown) + 1):
            if have[s:s + len(shown)] == shown:
                return
        first = next((k for k, line in enumerate(shown) if not any(line == h for h in have)), None)
        hint = f" (line {first + 1} of the block is nowhere in it: {shown[first]!r})" if first is not None else \
            " (its lines are there, but not in this order)"
        raise Failure(f"{b.where()}: the block is not a verbatim excerpt of {path}{hint}")


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def slug(heading):
    """GitHub's anchor for a heading: lower case, markup and punctuation
    dropped (word characters, '-' and spaces kept), spaces as '-'."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def prose_lines(path):
    """The lines of a Markdown file outside fenced code blocks."""
    fence = None
    for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        m = FENCE.match(line)
        if m and (fence is None or (len(m.group(2)) >= len(fence) and not m.group(3).strip())):
            fence = m.group(2) if fence is None else None
            continue
        if fence is None:
            yield n, line


def anchors(path):
    seen, out = {}, set()
    for _, line in prose_lines(path):
        m = HEADING.match(line)
        if m:
            a = slug(m.group(1))
            k = seen.get(a, 0)
            seen[a] = k + 1
            out.add(a if k == 0 else f"{a}-{k}")
    return out


def check_links(path, rel):
    """Every relative link names a file that exists, and an anchor that one
    of its headings makes."""
    problems = []
    for n, line in prose_lines(path):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
            if not os.path.exists(dest):
                problems.append(f"{rel}:{n}: the link '{target}' names a missing file")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                problems.append(f"{rel}:{n}: the link '{target}' names no heading of {file or rel}")
    if problems:
        raise Failure("\n".join(problems))


def lines_match(expected, got):
    """Exact line equality; a line '...' stands for any number of lines."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(lines_match(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and lines_match(expected[1:], got[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--stage", required=True)
    ap.add_argument("docs", nargs="*")
    args = ap.parse_args()
    docs = args.docs or ([os.path.join(args.repo, "README.md")] +
                         sorted(glob.glob(os.path.join(args.repo, "docs", "*.md"))) +
                         [os.path.join(args.repo, "bindings", "python", "README.md")])
    checker = Checker(args)
    failures = []
    for d in docs:
        try:
            checker.check_doc(d)
        except Failure as e:
            failures.append(str(e))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(checker.counts.items()))
    if failures:
        print("\n\n".join(failures))
        print(f"\nFAILED: {len(failures)} document(s); checked before the failures: {summary}")
        return 1
    print(f"ok: {len(docs)} documents, blocks checked: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
