"""``write_section``: a generated block replaced between its markers, the rest kept."""

from __future__ import annotations

import pytest

from netbootsim.plan.validate_engines import write_section

B, E = "<!-- x: begin -->", "<!-- x: end -->"


def test_replaces_between_markers_and_keeps_the_rest(tmp_path):
    p = tmp_path / "doc.md"
    p.write_text(f"# Doc\n\nbefore\n\n{B}\nold\n{E}\n\nafter\n")
    write_section(p, f"{B}\nnew\n{E}", B, E)
    assert p.read_text() == f"# Doc\n\nbefore\n\n{B}\nnew\n{E}\n\nafter\n"
    # Twice gives the same page: nothing is appended.
    write_section(p, f"{B}\nnew\n{E}", B, E)
    assert p.read_text() == f"# Doc\n\nbefore\n\n{B}\nnew\n{E}\n\nafter\n"


def test_appends_under_heading_when_markers_are_missing(tmp_path):
    p = tmp_path / "doc.md"
    p.write_text("# Doc\n")
    write_section(p, f"{B}\nnew\n{E}", B, E, heading="## X")
    assert p.read_text() == f"# Doc\n\n## X\n\n{B}\nnew\n{E}"


def test_arguments_in_the_wrong_order_are_refused(tmp_path):
    # The multi-site benchmark once passed (begin, end, text): each run appended a stray
    # heading and marker to docs/performance.md and never wrote its table.
    p = tmp_path / "doc.md"
    p.write_text(f"# Doc\n\n{B}\n{E}\n")
    with pytest.raises(ValueError, match="must run from"):
        write_section(p, B, E, f"{B}\nnew\n{E}")
    assert p.read_text() == f"# Doc\n\n{B}\n{E}\n"
