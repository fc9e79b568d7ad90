"""The one rule for drawing text that came from outside: messages, tool calls, comments, thread titles,
ids, model and assistant names, tags, query parameters, and the error messages that quote them.

Streamlit renders markdown in `st.markdown`, titles, captions, alerts, toasts, metric and widget labels
(GitHub-flavoured markdown, raw HTML as text, KaTeX math, its own `:color[...]` directives and
`:material/...:` icons, emoji shortcodes, and bare addresses turned into links); Plotly renders a subset
of HTML (links and styles included) in every text of a chart. Drawn as written, such text could load
an image from another host, hide a link behind other words or fill the page with a math command. So
everything from outside passes through one of these functions before it reaches such an element:

- `safe_markdown(text)`: agent or reviewer prose; headings, lists, tables, emphasis and code spans
  still format, while images, links, HTML, autolinks, bare addresses, math, directives and shortcodes
  show as the characters they are (addresses included: visible, never clickable, never loaded);
- `blocks(text)`: the same for text with fenced code blocks, split so the code goes to `st.code`;
- `plain(text)`: one line shown exactly as written (titles, names, ids, tags, error messages);
- `code(text)`: an inline code span showing exactly the text (ids, model and assistant names);
- `quoted(value)`: a value a message quotes, such as a query parameter: its repr, cut short, as `plain`;
- `chart_label(text)`: any text a Plotly chart shows (categories, legend, hover, titles).

Pure functions without Streamlit: tests/test_text.py checks them directly, and
tests/test_browser_content.py checks the pages in Chromium. docs/security.md describes the rule.
"""

from __future__ import annotations

import html
import re
import string
from itertools import count
from typing import NamedTuple

# Invisible, so the text reads the same; it stops what no escape can, because GFM turns bare addresses
# into links and Streamlit turns `:name:` into emoji and icons after the backslash escapes are resolved:
# before `http(s)://` and `www.` (a link needs whitespace or punctuation there), after `@` (an e-mail
# link needs its domain there), after the opening colon of `:name:` and of `:material/` (which
# Streamlit rewrites in the raw text, escaped or not).
_ZERO_WIDTH_SPACE = "\u200b"
_BREAKS = re.compile(
    r"(?i)(?=https?://|www\.)|(?<=@)|(?<=:)(?=[a-z0-9_+/-]*[a-z0-9][a-z0-9_+/-]*:)|(?<=:)(?=material/)"
)
_ICON_PREFIX = re.compile(r"(?<=:)(?=material/)")
# Every ASCII punctuation character may be backslash-escaped in CommonMark: escaped, none of them
# starts a construct (list, heading, table, emphasis, link, HTML, math, directive, code span).
_ALL_PUNCTUATION = str.maketrans({character: "\\" + character for character in string.punctuation})
# Prose escapes brackets (links, images, reference definitions, footnotes, directive labels), `<` (HTML,
# autolinks), `&` (entities), `$` (math), backslashes, the backticks the code-span pairing leaves
# unmatched, and a colon before anything but a space, pipe, dash or colon (directives such as
# `:red[...]` and `:color{...}`, the scheme of an address), so a table's alignment row (`|:---|---:|`)
# stays as written. Headings, lists, quotes, tables and emphasis keep working.
_PROSE_ESCAPED = frozenset("\\[]<&$`")
_COLON_AS_TEXT = frozenset(" \t\n|:-")
_AUTHOR_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])|([\s\S])")
_LINE_BREAKS = re.compile(r"\r\n?|[\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_CARRIAGE_RETURNS = re.compile(r"\r\n?")
_BLANK_LINE = re.compile(r"(\n[ \t]*\n)")
_TICKS = re.compile(r"`+")
_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_LANGUAGE = re.compile(r"[\w+#.-]{1,40}")


class Block(NamedTuple):
    """A piece of agent text: `kind` "markdown" (its `body` is safe markdown) or "code" (raw code)."""

    kind: str
    body: str
    language: str | None = None


def _text(value) -> str:
    return "" if value is None else str(value)


def _unlinked(text: str) -> str:
    return _BREAKS.sub(_ZERO_WIDTH_SPACE, text)


def plain(value) -> str:
    """Markdown that shows `value` as written, on one line (line breaks as spaces, the ends trimmed): every
    punctuation character escaped."""
    return _unlinked(_LINE_BREAKS.sub(" ", _text(value)).strip()).translate(_ALL_PUNCTUATION)


def quoted(value, limit: int = 200) -> str:
    """A value quoted in a message (a query parameter, an id): its first `limit` characters as a repr."""
    return plain(repr(_text(value)[:limit]))


def _span(content: str) -> str:
    if not content:
        return ""
    ticks = {len(run) for run in _TICKS.findall(content)}
    fence = "`" * next(length for length in count(1) if length not in ticks)
    # CommonMark strips one space from both ends when both have one, and a backtick at an end would
    # join the fence: a space each side keeps the content exactly.
    padded = content[0] == "`" or content[-1] == "`" or (content[0] == content[-1] == " " and content.strip(" "))
    pad = " " if padded else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def code(value) -> str:
    """An inline code span showing `value` exactly, on one line.

    A span never holds a pipe: a table row splits its cells at every pipe, code spans included, which
    would turn the rest of the span into markdown. Pipes sit between spans, escaped.
    """
    text = _ICON_PREFIX.sub(_ZERO_WIDTH_SPACE, _LINE_BREAKS.sub(" ", _text(value)))
    return "\\|".join(_span(piece) for piece in text.split("|"))


def _prose(text: str) -> str:
    """Prose escaped as described above. A character the author escaped stays escaped; the breaks and
    escapes are decided on the text as it reads (escapes resolved), where GFM and Streamlit look."""
    pieces = [(match[1] or match[2], bool(match[1])) for match in _AUTHOR_ESCAPE.finditer(text)]
    reads = "".join(character for character, _ in pieces)
    breaks = {match.start() for match in _BREAKS.finditer(reads)}
    out = []
    for index, (character, escaped) in enumerate(pieces):
        if index in breaks:
            out.append(_ZERO_WIDTH_SPACE)
        following = reads[index + 1 : index + 2]
        colon = character == ":" and following and following not in _COLON_AS_TEXT
        out.append("\\" + character if escaped or colon or character in _PROSE_ESCAPED else character)
    if len(pieces) in breaks:
        out.append(_ZERO_WIDTH_SPACE)
    return "".join(out)


def _paragraph(text: str) -> str:
    """Code spans paired as CommonMark pairs them, redrawn by `code`; the rest escaped as prose.

    An opening run of backticks is one no backslash escapes; it closes at the next run of the same
    length (backslashes mean nothing inside a span); a run that finds none is text. Every backtick left
    unescaped in the result is a fence `code` drew, so what is code and what is not is decided here.
    """
    runs = list(_TICKS.finditer(text))
    out, done, index = [], 0, 0
    while index < len(runs):
        start, end = runs[index].span()
        before = text[done:start]
        if (len(before) - len(before.rstrip("\\"))) % 2:
            start += 1  # the first backtick is escaped
        closer = next((later for later in range(index + 1, len(runs)) if len(runs[later].group()) == end - start), None)
        if start == end or closer is None:
            index += 1
            continue
        content = text[end : runs[closer].start()].replace("\n", " ")
        if content[:1] == content[-1:] == " " and content.strip(" "):
            content = content[1:-1]
        out += [_prose(text[done:start]), code(content)]
        done = runs[closer].end()
        index = closer + 1
    out.append(_prose(text[done:]))
    return "".join(out)


def _prose_markdown(text: str) -> str:
    # Code spans never cross a blank line: pairing within each paragraph finds the spans CommonMark finds.
    return "".join(part if _BLANK_LINE.fullmatch(part) else _paragraph(part) for part in _BLANK_LINE.split(text))


def _split(value) -> list[Block]:
    """Raw prose and fenced code, the fences found as CommonMark finds them: three or more backticks or
    tildes indented at most three spaces, closed by a run of at least as many of the same character
    alone on its line, or by the end of the text."""
    lines = _CARRIAGE_RETURNS.sub("\n", _text(value)).split("\n")
    found: list[Block] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if not opening or (opening["fence"][0] == "`" and "`" in opening["info"]):
            prose.append(lines[index])
            index += 1
            continue
        fence = opening["fence"]
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body = []
        index += 1
        while index < len(lines) and not closing.match(lines[index]):
            body.append(lines[index])
            index += 1
        index += 1
        if prose:
            found.append(Block("markdown", "\n".join(prose)))
            prose = []
        words = opening["info"].split()
        found.append(Block("code", "\n".join(body), words[0] if words and _LANGUAGE.fullmatch(words[0]) else None))
    if prose:
        found.append(Block("markdown", "\n".join(prose)))
    return found


def _fenced(block: Block) -> str:
    """A fenced code block showing `block.body` as written: no line of the body can close the fence."""
    fence = "`" * max(3, 1 + max((len(run) for run in _TICKS.findall(block.body)), default=0))
    return f"{fence}{block.language or ''}\n{_ICON_PREFIX.sub(_ZERO_WIDTH_SPACE, block.body)}\n{fence}"


def safe_markdown(value) -> str:
    """Agent or reviewer text as markdown that formats (headings, lists, tables, emphasis, code spans,
    fenced code) but never loads, links or runs anything; see the module docstring."""
    return "\n".join(_fenced(block) if block.kind == "code" else _prose_markdown(block.body) for block in _split(value))


def blocks(value) -> list[Block]:
    """Agent text as prose (safe markdown, for `st.markdown`) and fenced code (raw, for `st.code`)."""
    return [
        block if block.kind == "code" else Block("markdown", _prose_markdown(block.body))
        for block in _split(value)
        if block.kind == "code" or block.body.strip()
    ]


def chart_label(value) -> str:
    """Text for a Plotly chart: `<`, `>` and `&` as entities, so no tag (links, styles) is drawn."""
    return html.escape(_text(value), quote=False)
