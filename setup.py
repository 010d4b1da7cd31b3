"""Build: compile the matching engine's hot modules with mypyc.

The engine, its books and its mutable records are plain, fully typed Python; mypyc turns them into
C extension modules with the same behaviour (they remain importable as Python if not compiled).
Everything else stays interpreted. Set STOCKADE_PURE=1 to skip compilation.
"""

import os

from setuptools import setup

COMPILED = [
    "src/stockade/exchange/_order.py",
    "src/stockade/exchange/_rules.py",
    "src/stockade/exchange/_book.py",
    "src/stockade/exchange/_engine.py",
]

if os.environ.get("STOCKADE_PURE") == "1":
    setup()
else:
    from mypyc.build import mypycify

    setup(ext_modules=mypycify(COMPILED, opt_level="3", group_name="stockade_native"))
