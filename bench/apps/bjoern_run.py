"""Serves a WSGI app with bjoern (bench/adapters.sh): bjoern has no command
line of its own. Usage: python bjoern_run.py MODULE:APP HOST PORT"""
import importlib
import sys

import bjoern

module, _, name = sys.argv[1].partition(":")
app = getattr(importlib.import_module(module), name)
bjoern.run(app, sys.argv[2], int(sys.argv[3]))
