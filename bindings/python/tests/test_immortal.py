"""On a free-threaded CPython, registering a handler re-creates its code
objects outside compile(), so that their constants are immortal
(turbo/_immortal.py; CPython gh-118527: an imported module's constants
stay mortal, and threads running the same function contend on their
reference counts).

The observable: on a free-threaded build sys.getrefcount() of an
immortal object is the fixed immortal count (that of None), whatever
holds it; of a mortal one, the count of its references. Handlers are
imported from a module written for each test, so that importlib
compiles them as it compiles any app's."""

import importlib
import json
import subprocess
import sys
import textwrap
import types
import uuid

import pytest

import turbo
from conftest import FREE_THREADED, Client, child_env
from turbo import App, _immortal, immortalize_constants

HANDLERS = '''
import functools

def plain(n: int = 3):
    x = 0
    for i in range(n):
        x = (x * 31 + i) % 1000003
    inner = lambda y: y + 7777777
    return {"x": inner(x), "f": 2.75, "t": (123457, 8.25)}

async def coroutine():
    return {"c": 4444441}

def undecorated_target():
    return {"u": 5555557}

def wrap_plainly(f):
    def wrapper():
        return f()
    return wrapper

via_closure = wrap_plainly(undecorated_target)

def wraps_target():
    return {"w": 6666661}

@functools.wraps(wraps_target)
def via_wraps():
    return wraps_target()

class Resource:
    def get(self):
        return {"m": 8888881}

    def __call__(self):
        return {"k": 9999991}

def with_arg(a: str = "", b: int = 0):
    return {"p": 3333331, "a": a}

partial_handler = functools.partial(with_arg, "fixed")
bound = Resource().get
instance = Resource()
'''

IMMORTAL = sys.getrefcount(None)  # on a free-threaded build: the immortal count


def load_handlers(tmp_path, monkeypatch):
    name = "handlers_%s" % uuid.uuid4().hex
    (tmp_path / (name + ".py")).write_text(HANDLERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def constants(code, kinds=(int, float, bytes, tuple)):
    """code's constants of kinds (ints above the small-int cache), and
    those of the code objects nested in it."""
    out = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out += constants(c, kinds)
        elif isinstance(c, kinds) and not isinstance(c, bool) and \
                not (isinstance(c, int) and -5 <= c <= 256):
            out.append(c)
    return out


def immortal(obj):
    return sys.getrefcount(obj) == IMMORTAL


def code_of(m, name):
    return getattr(m, name).__code__


ft_only = pytest.mark.skipif(not (FREE_THREADED and _immortal.ENABLED),
                             reason="re-creating code objects is for a free-threaded CPython")


@ft_only
def test_registering_a_handler_makes_its_constants_and_nested_ones_immortal(tmp_path, monkeypatch):
    m = load_handlers(tmp_path, monkeypatch)
    before = constants(m.plain.__code__)
    for c in (1000003, 7777777, 2.75, (123457, 8.25)):
        assert c in before  # 7777777: in the nested lambda's code object
    assert not any(immortal(c) for c in before)  # as importlib left them
    old_code = m.plain.__code__
    App().add_route("/p", m.plain)
    assert m.plain.__code__ is not old_code
    assert m.plain.__code__ == old_code  # the same code, a new object
    after = constants(m.plain.__code__)
    assert [c for c in after if not immortal(c)] == []
    assert m.plain(5) == {"x": plain_x(5), "f": 2.75, "t": (123457, 8.25)}


def plain_x(n):
    """What HANDLERS' plain(n) answers as "x"."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) % 1000003
    return x + 7777777


@ft_only
def test_what_a_handler_reaches_is_made_immortal_too(tmp_path, monkeypatch):
    """An async def, an undecorated wrapper's target (in its closure), what
    functools.wraps recorded, a bound method, a functools.partial, a
    callable instance's __call__."""
    m = load_handlers(tmp_path, monkeypatch)
    targets = {
        "coroutine": m.coroutine, "undecorated_target": m.undecorated_target,
        "wraps_target": m.wraps_target, "get": m.Resource.get, "__call__": m.Resource.__call__,
        "with_arg": m.with_arg,
    }
    for name, f in targets.items():
        assert not any(immortal(c) for c in constants(f.__code__)), name
    app = App()
    for i, h in enumerate((m.coroutine, m.via_closure, m.via_wraps, m.bound, m.partial_handler,
                           m.instance)):
        app.add_route("/h%d" % i, h)
    for name, f in targets.items():
        consts = constants(f.__code__)
        assert consts and all(immortal(c) for c in consts), name


@ft_only
def test_functions_from_one_code_object_share_one_recreated_code(tmp_path, monkeypatch):
    m = load_handlers(tmp_path, monkeypatch)
    app = App()
    handlers = [m.wrap_plainly(m.undecorated_target) for _ in range(5)]
    for i, h in enumerate(handlers):
        app.add_route("/w%d" % i, h)
    assert len({id(h.__code__) for h in handlers}) == 1
    assert immortalize_constants(*handlers) == 0  # all done already


@ft_only
def test_the_packages_own_request_path_has_immortal_constants():
    import turbo._aio
    import turbo.asgi
    import turbo.wsgi

    mortal = []
    for mod in (turbo, turbo._aio, turbo.asgi, turbo.wsgi):
        for value in vars(mod).values():
            funcs = [value] if isinstance(value, types.FunctionType) else []
            if isinstance(value, type) and value.__module__ == mod.__name__:
                funcs = [v for v in vars(value).values() if isinstance(v, types.FunctionType)]
            for f in funcs:
                if f.__module__ == mod.__name__:
                    mortal += [(f.__qualname__, c) for c in constants(f.__code__)
                               if not immortal(c)]
    assert mortal == []


def test_handlers_answer_the_same_after_their_code_is_recreated(tmp_path, monkeypatch, serve):
    m = load_handlers(tmp_path, monkeypatch)
    app = App()
    app.add_route("/p", m.plain)
    app.add_route("/partial", m.partial_handler)
    app.add_route("/instance", m.instance)
    serve(app)
    c = Client(app.port)
    try:
        r = c.get("/p?n=4")
        assert (r.status, json.loads(r.body)) == (200, {"x": plain_x(4), "f": 2.75,
                                                        "t": [123457, 8.25]})
        r = c.get("/partial?b=2")
        assert (r.status, json.loads(r.body)) == (200, {"p": 3333331, "a": "fixed"})
        r = c.get("/instance")
        assert (r.status, json.loads(r.body)) == (200, {"k": 9999991})
    finally:
        c.close()


@pytest.mark.skipif(FREE_THREADED, reason="with a GIL nothing is re-created")
def test_with_a_gil_nothing_is_recreated(tmp_path, monkeypatch):
    m = load_handlers(tmp_path, monkeypatch)
    code = m.plain.__code__
    App().add_route("/p", m.plain)
    assert m.plain.__code__ is code
    assert immortalize_constants(m, m.Resource, m.bound) == 0


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded CPython")
def test_turbo_immortalize_0_turns_it_off(tmp_path):
    (tmp_path / "h.py").write_text(textwrap.dedent(HANDLERS))
    prog = textwrap.dedent("""
        import sys, turbo, h
        code = h.plain.__code__
        turbo.App().add_route("/p", h.plain)
        big = [c for c in h.plain.__code__.co_consts if c == 1000003][0]
        print(h.plain.__code__ is code, sys.getrefcount(big) == sys.getrefcount(None),
              turbo.immortalize_constants(h))
    """)
    env = child_env()
    env["PYTHONPATH"] = str(tmp_path) + ":" + env.get("PYTHONPATH", "")
    for setting, expected in (("0", "True False 0\n"), ("1", "False True ")):
        env["TURBO_IMMORTALIZE"] = setting
        out = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(expected), (setting, out.stdout)
