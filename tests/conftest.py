"""Shared pytest configuration."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "lab: boots real QEMU guests in a network namespace (needs root and QEMU)")


def _hypothesis_profiles():
    """CI runs hypothesis derandomized (same examples every run, so a landing is never
    blocked by a fresh random draw); local runs explore new examples each time."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")


_hypothesis_profiles()
