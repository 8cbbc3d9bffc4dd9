"""WCAG 2 contrast of two CSS colours as the browser computes them ("rgb(35, 82, 124)")."""
import re

COLOUR = re.compile(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+))?\s*\)")
NORMAL_TEXT = 4.5  # WCAG 2.1 AA, success criterion 1.4.3


def parse(colour: str):
    match = COLOUR.fullmatch(colour.strip())
    assert match, f"not a computed colour: {colour!r}"
    red, green, blue, alpha = match.groups()
    assert alpha is None or float(alpha) == 1, f"a translucent colour has no contrast of its own: {colour!r}"
    return tuple(float(c) / 255 for c in (red, green, blue))


def luminance(colour: str) -> float:
    def linear(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in parse(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return round((lighter + 0.05) / (darker + 0.05), 2)
