"""Plans: the one pipeline from a scenario to its outputs, and what is built on it.

``run`` (load → build → run → summarize → write, with a progress callback and the
memory watch), ``assemble`` (validated sections → the fleet's inputs), ``summary``
(frames and ``summary.json``), ``outdir`` (output directories written whole, never over
a user's files), and on top of them ``compare``, ``sweep``, ``validate_engines`` and
``bench``. Nothing here parses a command line (that is :mod:`netbootsim.cli`).
"""
