"""``python -m netbootsim``: the command line, as the ``netbootsim`` script runs it."""

from .cli import run_cli

run_cli()
