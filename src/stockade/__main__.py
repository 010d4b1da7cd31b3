"""``python -m stockade``: the same command as ``stockade``."""

from stockade.cli import main

main()
