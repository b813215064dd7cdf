"""Served by test_processes.py: answers with the serving process's PID."""

import os

from turbo import App

app = App()


@app.get("/pid")
def pid():
    return {"pid": os.getpid()}


@app.get("/hello/{name}")
def hello(name: str, times: int = 1):
    return {"hello": name, "times": times}


@app.get("/text")
def text():
    return "served by turbo\n"


@app.get("/slow")
def slow(secs: float = 0.5):
    import time
    time.sleep(secs)
    return {"slept": secs, "pid": os.getpid()}


@app.get("/env")
def env():
    """The socket-activation variables this process's os.environ still has."""
    return sorted(k for k in os.environ if k.startswith("LISTEN_"))
