"""netbootsim: a discrete-event simulator of data-center network booting."""

__version__ = "0.1.0"
