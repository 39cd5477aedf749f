"""Thin shim kept for the promised layout: the CLI lives in `dcsim/cli.py` (`dcsim.cli`).

`python cli.py ...` from a source checkout behaves like the installed `dcsim` command.
"""

from dcsim.cli import app

if __name__ == "__main__":
    app()
