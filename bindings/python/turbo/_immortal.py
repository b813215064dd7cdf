"""Code objects re-created so that their constants are immortal, on a
free-threaded CPython 3.13 (issue 18).

Why: a free-threaded build interns a code object's constants and makes
them immortal when the code object is created, except inside an explicit
compile() call (CPython gh-118527: Python/bltinmodule.c lowers
interp->gc.immortalize around it, and Objects/codeobject.c's
intern_constants() then leaves ints, floats, bytes and tuples of them
mortal). importlib compiles every module with compile(), so the
constants of every imported function stay mortal, and each LOAD_CONST
of one on two threads at once updates one shared reference count
atomically: a handler with a constant in its loop then runs slower on
two I/O threads than on one. code.replace() builds a new code object
outside compile(), whose constants are interned and immortal; nested
code objects (lambdas, inner functions, comprehensions in 3.11) sit in
co_consts and are re-created first.

What is reached from a registered object: a function (and the code
objects nested in it), a bound method's function, a functools.partial's
function, what functools.wraps recorded (__wrapped__), functions held in
a closure's cells (an undecorated wrapper's target), a callable
instance's __call__, a class's own functions; a module's own functions
and classes (those whose __module__ is that module). Not reached: code
the handler calls by name (a module's other functions, a library's), a
module-level number it reads as a global (a global is not a constant),
and, for a WSGI or ASGI application, the framework's code behind its
__call__. immortalize_constants() is there for those.

Without Py_GIL_DISABLED, or with TURBO_IMMORTALIZE=0 in the environment
(for measuring the difference: bench/ft_scaling.sh), nothing is done.
"""

from __future__ import annotations

import functools
import os
import sysconfig
import threading
import types
from typing import Any

ENABLED = bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and \
    os.environ.get("TURBO_IMMORTALIZE", "1") != "0"

_lock = threading.Lock()
# id(code) -> (code, the code object that replaces it): (old, new) for a
# code object replaced, (new, new) for one made here. Functions made from
# one code object (closures of a factory, routes added and removed again
# and again) get one re-created code object, not one each. The old one is
# kept alive: a function's __code__ is swapped without a lock
# (funcobject.c func_set_code), and a thread calling the function at that
# moment may still take a reference to the old one.
_recreated: dict[int, tuple[types.CodeType, types.CodeType]] = {}


def _recreate_code(code: types.CodeType) -> types.CodeType:
    done = _recreated.get(id(code))
    if done is not None and done[0] is code:
        return done[1]
    consts = tuple(_recreate_code(c) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    new = code.replace(co_consts=consts)
    _recreated[id(code)] = (code, new)
    _recreated[id(new)] = (new, new)
    return new


def _function(f: types.FunctionType) -> int:
    new = _recreate_code(f.__code__)
    if new is f.__code__:
        return 0
    f.__code__ = new
    return 1


# What a class's own functions are stored as.
_MEMBERS = (types.FunctionType, staticmethod, classmethod, property)


def _walk(obj: Any, seen: set[int]) -> int:
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    n = 0
    if isinstance(obj, types.FunctionType):
        n += _function(obj)
        for cell in obj.__closure__ or ():
            try:
                target = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(target, (types.FunctionType, types.MethodType, functools.partial)):
                n += _walk(target, seen)
        wrapped = obj.__dict__.get("__wrapped__")
        if wrapped is not None:
            n += _walk(wrapped, seen)
    elif isinstance(obj, types.MethodType):
        n += _walk(obj.__func__, seen)
    elif isinstance(obj, functools.partial):
        n += _walk(obj.func, seen)
    elif isinstance(obj, (staticmethod, classmethod)):
        n += _walk(obj.__func__, seen)
    elif isinstance(obj, property):
        for f in (obj.fget, obj.fset, obj.fdel):
            if f is not None:
                n += _walk(f, seen)
    elif isinstance(obj, type):
        for value in list(vars(obj).values()):
            if isinstance(value, _MEMBERS) or \
                    isinstance(value, type) and value.__module__ == obj.__module__:
                n += _walk(value, seen)
    elif isinstance(obj, types.ModuleType):
        for value in list(vars(obj).values()):
            if isinstance(value, (types.FunctionType, type)) and \
                    getattr(value, "__module__", None) == obj.__name__:
                n += _walk(value, seen)
    elif callable(obj):
        call = getattr(type(obj), "__call__", None)
        if isinstance(call, types.FunctionType):
            n += _walk(call, seen)
    return n


def immortalize_constants(*objs: Any) -> int:
    """On a free-threaded CPython, re-creates the code objects of objs
    (functions, methods, functools.partial objects, callable instances,
    classes, modules: see the module's doc for what each reaches) outside
    compile(), so that their constants are immortal and threads running
    them at once do not contend on the constants' reference counts.
    Returns how many functions got a new code object (0 for those already
    done, and always 0 with a GIL or TURBO_IMMORTALIZE=0). Safe while
    serving: the code does what it did."""
    if not ENABLED:
        return 0
    with _lock:
        seen: set[int] = set()
        return sum(_walk(obj, seen) for obj in objs)
