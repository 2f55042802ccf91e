"""Reading the "Grok videos" page's HTML as its reader sees it: the card of each generation."""

from __future__ import annotations

import re


def cards(page: str) -> dict[str, str]:
    """Each generation card of the page by its generation id."""
    found = re.findall(
        r'<article class="card[^"]*" id="[^"]*" data-generation-id="([^"]+)"(.*?)</article>',
        page,
        re.S,
    )
    return {gid: body for gid, body in found}
