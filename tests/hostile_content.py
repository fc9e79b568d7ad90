"""Content built to make a browser call an outside host, open a dialog or run a script.

Shared by the unit tests of the rendering rule (tests/test_text.py) and the Chromium test that
stores it everywhere a page shows text and sends it in every page's query parameters
(tests/test_browser_content.py). Every address points at `evil.example` (or another host that is
not the dashboard's), every script sets `window.__pwned`, so the browser test can tell.
"""

from __future__ import annotations

SVG_ONLOAD = "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%20onload='window.__pwned=31'/%3E"
PNG_DATA = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5"
    "ErkJggg=="
)

# Markdown and HTML that load, link or run something when rendered as written.
PAYLOADS: list[str] = [
    "![inline image](https://evil.example/inline.png)",
    "[inline link](https://evil.example/inline-link)",
    "`x\n\n![c](https://evil.example/c.png) [phish](https://evil.example/login)\n\n`",
    "``![unmatched opener](https://evil.example/double.png)`",
    "`a\nb` ![lines](https://evil.example/span-lines.png) `c`",
    "| `a | ![cell](https://evil.example/cell.png) | b` |\n|---|---|---|\n| 1 | 2 | 3 |",
    "![reference image][logo]\n\n[logo]: https://evil.example/reference.png",
    "[reference link][site]\n\n[site]: https://evil.example/reference-link",
    "[shortcut]\n\n[shortcut]: https://evil.example/shortcut",
    "![collapsed][]\n\n[collapsed]: https://evil.example/collapsed.png",
    '<img src="https://evil.example/raw.png">',
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '<a href="https://evil.example/html-link">gpt-evil</a>',
    "<https://evil.example/autolink>",
    "<mailto:ceo@evil.example>",
    "see https://evil.example/bare and www.evil.example/www and ceo@evil.example",
    "$\\href{https://evil.example/katex}{click}$",
    "$\\includegraphics{https://evil.example/katex.png}$",
    "$$\n\\includegraphics[height=1em]{https://evil.example/display.png}\n$$",
    "$\\url{https://evil.example/katex-url}$",
    f"![svg data]({SVG_ONLOAD})",
    f"![png data]({PNG_DATA})",
    "[javascript link](javascript:window.__pwned=3)",
    '<svg><image href="https://evil.example/svg.png"/></svg>',
    '<svg onload="window.__pwned=4"></svg>',
    '<div style="background:url(https://evil.example/css.png)">css</div>',
    "<style>@import url(https://evil.example/style.css);</style>",
    '<span style="background-image:url(https://evil.example/span.png)">styled</span>',
    ':color[x]{background="url(https://evil.example/directive.png)"} :red[red] :blue-badge[badge] :help[tip]',
    ":material/warning: :streamlit: :smile: :+1:",
    '<iframe src="https://evil.example/frame"></iframe>',
    '<video src="https://evil.example/video.mp4" autoplay></video><audio src="https://evil.example/a.mp3"></audio>',
    '<object data="https://evil.example/object"></object><embed src="https://evil.example/embed">',
    '<link rel="stylesheet" href="https://evil.example/link.css"><base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/refresh">',
    '[angle](<https://evil.example/angle> "title")',
    "[![nested](https://evil.example/nested.png)](https://evil.example/nested)",
    "\\![escaped bang](https://evil.example/backslash.png) \\\\![double](https://evil.example/backslash2.png)",
    "note[^1]\n\n[^1]: ![footnote](https://evil.example/footnote.png)",
    "<div>\n\n![inside html block](https://evil.example/div.png)\n\n</div>",
    "~~~\n![tilde fence, unclosed](https://evil.example/tilde.png)",
    "````\n```\n````\n![after nested fence](https://evil.example/fence.png)",
    "&lt;img src=https://evil.example/entity.png&gt; &#91;x&#93;(https://evil.example/entity)",
    '<b onmouseover="window.__pwned=5">bold</b><details open ontoggle="window.__pwned=6">x</details>',
]

# At most 20 characters: the dashboard quotes only the first 20 of some query parameters.
SHORT_PAYLOADS: list[str] = [
    "![](//evil.example)",
    "[x](//evil.example)",
    "<img src=//ev.il>",
    "<http://ev.il>",
    "http://ev.il/x",
    "$\\href{//ev.il}{x}$",
    ":red[x] :smile:",
    "`x\n\n![](//ev.il)",
]

# Payloads a field with the id alphabet (letters, digits and ._:@+=~|-) can hold.
ID_PAYLOADS: list[str] = [
    "www.evil.example",
    "ceo@evil.example",
    "a:smile:b",
    "a:material_warning:",
    "a:streamlit:",
    "a~~strike~~",
    "a__bold__",
    "a|b|c",
]
