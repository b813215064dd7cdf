"""Builds turbo._turbo against an installed libturbo, found with pkg-config.

    pip install --no-build-isolation ./bindings/python

works offline (setuptools comes from the system). For a libturbo installed
under a prefix pkg-config does not search, set PKG_CONFIG_PATH to its
lib/pkgconfig; the module records that library directory as its rpath.
"""
import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "turbo"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(
            "libturbo not found by pkg-config (install libturbo, or set PKG_CONFIG_PATH "
            f"to its lib/pkgconfig): {e}"
        )
    return shlex.split(out.stdout)


def flags(prefix, items):
    return [i[len(prefix):] for i in items if i.startswith(prefix)]


cflags, libs = pkg_config("--cflags"), pkg_config("--libs")
lib_dirs = flags("-L", libs)

setup(
    version=pkg_config("--modversion")[0],
    ext_modules=[
        Extension(
            "turbo._turbo",
            sources=["src/module.c", "src/server.c", "src/call.c", "src/aio.c", "src/request.c",
                     "src/response.c", "src/jsonenc.c", "src/wsgi.c", "src/asgi.c"],
            include_dirs=flags("-I", cflags) + ["src"],
            library_dirs=lib_dirs,
            libraries=flags("-l", libs),
            runtime_library_dirs=lib_dirs,
            # Hidden, as in the CMake build: the module exports PyInit__turbo
            # only, and calls between its own files stay direct (no PLT).
            extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-fvisibility=hidden"],
        )
    ],
)
