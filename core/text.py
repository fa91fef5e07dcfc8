"""Text normalisation shared by headers, periods and names."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize(text: object) -> str:
    """NFKC (full-width → half-width digits, letters, brackets, colons), no whitespace."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    return _SPACE.sub("", s)
