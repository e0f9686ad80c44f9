"""``python -m netbootsim``: the command line, as the ``netbootsim`` script runs it."""

import sys

from .cli import main

sys.exit(main())
