"""MkDocs hook (``mkdocs.yml``): README.md is the documentation site's home page.

One landing page for GitHub, PyPI and the site: ``docs/index.md`` only holds the home page's
place in the nav, and its text is replaced by README.md's at build time.  README.md links into
``docs/`` from the repository's root (``docs/guide.md#…``); here those links are made relative
to ``docs/``, so that ``mkdocs build --strict`` checks them, anchors included, as it checks the
pages' own links.  The pages link to the README as ``../README.md`` (right on GitHub), which
becomes the home page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"
HOME = "index.md"
_INTO_DOCS = re.compile(r"\]\(docs/")
_TO_README = re.compile(r"\]\(\.\./README\.md")


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri == HOME:
        return _INTO_DOCS.sub("](", README.read_text(encoding="utf-8"))
    return _TO_README.sub(f"]({HOME}", markdown)
