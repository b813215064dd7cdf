"""python -m turbo module:app [--host H] [--port P | --fd N] [--threads N] [--workers W]"""

import argparse
import importlib
import os
import sys


def load_app(spec: str):
    """'package.module:attr' -> the object (the current directory is
    importable, as with uvicorn)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:APP, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m turbo", description="Serve a turbo App.")
    p.add_argument("app", help="MODULE:APP, e.g. myapi:app")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port, 0 for any free one (default 8000)")
    p.add_argument("--fd", type=int, default=None,
                   help="serve on this inherited listening socket instead of binding; under "
                        "systemd socket activation (LISTEN_PID/LISTEN_FDS) fd 3 is used")
    p.add_argument("--threads", type=int, default=None, help="I/O threads per worker (default 1 with a GIL)")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (default 1)")
    args = p.parse_args(argv)
    if args.fd is not None and (args.host is not None or args.port is not None):
        p.error("--fd cannot be combined with --host or --port")
    if args.fd is not None and args.fd < 0:
        p.error("--fd must be a file descriptor number")
    args.host = "127.0.0.1" if args.host is None else args.host
    args.port = 8000 if args.port is None else args.port
    if not 0 <= args.port <= 65535:
        p.error("--port must be from 0 to 65535")
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.threads is not None and not 0 <= args.threads <= 1024:
        p.error("--threads must be from 0 to 1024")
    try:
        app = load_app(args.app)
    except (ImportError, AttributeError, ValueError) as e:
        print(f"python -m turbo: cannot load {args.app}: {e}", file=sys.stderr)
        return 2
    try:
        app.run(host=args.host, port=args.port, threads=args.threads, workers=args.workers,
                fd=args.fd)
    except ValueError as e:  # an inherited fd or LISTEN_FDS that cannot be served
        print(f"python -m turbo: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
