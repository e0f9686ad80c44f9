"""Open a report in a headless browser: what a planner sees, checked and photographed.

The HTML report is one self-contained file (figures as ``data:`` PNGs). Whether it
reads right is a question for a browser, not for the text: broken images, markup shown
as text and sections out of order only show when it is rendered. This module drives
Debian's Chromium through Selenium (chromium and chromium-driver come with
``netbootsim lab install``; selenium with the ``dev`` extra) and reports what the page
shows, for the test ``tests/report/test_report_browser.py`` and for the screenshot in the README:

    python -m netbootsim.report.browser results/ipxe-dynamic-api/report.html docs/report.png
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHROMEDRIVER", "CHROMIUM", "Page", "available", "render"]

CHROMIUM = "/usr/bin/chromium"  # Debian package chromium
CHROMEDRIVER = "/usr/bin/chromedriver"  # Debian package chromium-driver
WIDTH = 1366  # the commonest laptop width; the report's column is 1000 px wide

_IMAGES = """return [...document.images].map(i => {
  const r = i.getBoundingClientRect();
  return [i.alt, i.complete, i.naturalWidth, r.top, r.width, r.height];
});"""
_BLOCKS = """return [...document.querySelectorAll('h1, h2, table')].map(e => {
  const r = e.getBoundingClientRect();
  return [e.tagName.toLowerCase(), e.innerText.split('\\n')[0].trim(), r.top, r.height];
});"""
_HEADLINE = """const t = document.querySelector('table');
return t ? [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim())) : [];"""


@dataclass(frozen=True)
class Page:
    """What the browser rendered.

    Attributes:
        text: the page's visible text (``document.body.innerText``).
        images: ``(alt, loaded, natural width, top, width, height)`` per ``<img>``,
            positions in CSS pixels from the top of the page.
        blocks: ``(tag, first line of text, top, height)`` per ``h1``, ``h2``, ``table``.
        headline: the first table's rows as cell texts.
        height: the page's height (CSS pixels).
    """

    text: str
    images: list[tuple[str, bool, int, float, float, float]]
    blocks: list[tuple[str, str, float, float]]
    headline: list[list[str]]
    height: int

    def top_of(self, tag: str, first_line: str) -> float:
        """Top of the first ``tag`` whose text starts with ``first_line`` (KeyError if none)."""
        for t, line, top, _ in self.blocks:
            if t == tag and line.startswith(first_line):
                return top
        raise KeyError(f"no <{tag}> starting {first_line!r}")


def available() -> str | None:
    """``None`` if a headless browser can run here, else why not."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        return f"{', '.join(missing)} missing (run 'netbootsim lab install' as root)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium missing (pip install -e '.[dev]')"
    return None


def render(report: Path, screenshot: Path | None = None, height: int = 900) -> Page:
    """Load ``report`` in headless Chromium at 1366 px wide; optionally save a PNG.

    Args:
        report: the HTML file.
        screenshot: where to write a PNG of the whole page (``None``: no picture).
        height: the window's height while the page loads (CSS pixels).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", f"--window-size={WIDTH},{height}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(Path(report).resolve().as_uri())
        page = Page(text=driver.execute_script("return document.body.innerText"),
                    images=[tuple(i) for i in driver.execute_script(_IMAGES)],
                    blocks=[tuple(b) for b in driver.execute_script(_BLOCKS)],
                    headline=driver.execute_script(_HEADLINE),
                    height=int(driver.execute_script(
                        "return document.documentElement.scrollHeight")))
        if screenshot is not None:
            driver.set_window_size(WIDTH, page.height)
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(screenshot))
            _shrink(Path(screenshot))
        return page
    finally:
        driver.quit()


def _shrink(png: Path) -> None:
    """Re-save ``png`` with a 256-colour palette (Pillow comes with matplotlib).

    A report is flat colours and text: octree without dithering keeps every legend
    colour apart (median cut merged some) at a third of the size.
    """
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                           dither=Image.Dither.NONE)
    small.save(png, optimize=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m netbootsim.report.browser REPORT.html OUT.png``: photograph a report."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m netbootsim.report.browser REPORT.html OUT.png", file=sys.stderr)
        return 2
    why = available()
    if why:
        print(f"no headless browser: {why}", file=sys.stderr)
        return 2
    if not Path(args[0]).is_file():
        print(f"{args[0]}: no such report", file=sys.stderr)
        return 2
    page = render(Path(args[0]), Path(args[1]))
    broken = [alt for alt, ok, w, *_ in page.images if not ok or w == 0]
    print(f"{args[1]}: {WIDTH} × {page.height} px, {len(page.images)} figures"
          + (f", BROKEN: {', '.join(broken)}" if broken else ""))
    return 1 if broken else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
