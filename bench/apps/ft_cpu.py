"""bench/ft_scaling.sh's app: a CPU-bound handler (a 20,000-step
pure-Python loop, about 1 ms) and the hello handler. Imported by
`python -m turbo`, so importlib compiles it: on a free-threaded CPython
its constants (20000, 1000003) are mortal until the binding re-creates
the handler's code object (turbo/_immortal.py; TURBO_IMMORTALIZE=0 turns
that off for the comparison)."""

from turbo import App

app = App()


@app.get("/cpu")
def cpu():
    x = 0
    for i in range(20000):
        x = (x * 31 + i) % 1000003
    return {"x": x}


@app.get("/hello")
def hello():
    return {"message": "Hello, World!"}
