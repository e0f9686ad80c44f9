"""``python -m netbootsim.lab ...``: the ``netbootsim lab`` subcommands on their own."""

from __future__ import annotations

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["lab", *sys.argv[1:]]))
