"""The rendering rule for outside text (pages/_text.py), as pure functions without Streamlit.

What the functions produce is parsed with markdown-it-py, a CommonMark parser with GFM tables, and
checked against the triggers Streamlit's renderer uses for what CommonMark lacks (math, directives,
shortcodes, icons, bare addresses turned into links), ported from Streamlit 1.67's frontend. The
Chromium test (tests/test_browser_content.py) checks the same payloads on the real pages.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from pages import _text
from tests.hostile_content import ID_PAYLOADS, PAYLOADS, SHORT_PAYLOADS

ALL_PAYLOADS = PAYLOADS + SHORT_PAYLOADS + ID_PAYLOADS
ZERO_WIDTH_SPACE = "\u200b"
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Text built from what markdown, GFM and Streamlit give meaning to.
HOSTILE_TEXT = st.lists(
    st.sampled_from(list("`[]()<>!&$:*_~|\\#-+=.@/{}^ \n\tahtpswxm1") + ["http://", "www.", ":material/", "```"]),
    max_size=40,
).map("".join)
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80)

# Streamlit 1.67 (StreamlitMarkdown) loads remark-math only when its source passes this test, after
# removing code and backslash-escaped dollars, backticks and backslashes.
_STREAMLIT_CODE = re.compile(
    r"(?:\A|(?<=\n)) {0,3}(`{3,}|~{3,})[\s\S]*?(?:\n[ \t]*\1|\Z)|(?<!`)(`+)[^`\n]+\2(?!`)|\\[\\$`]"
)
_STREAMLIT_DISPLAY_MATH = re.compile(r"(?<!\$)\$\$+(?!\$)[\s\S]*?\$\$")
_STREAMLIT_INLINE_MATH = re.compile(r"(?<!\$)\$(?![\s$])[^$\n]*?[^\s$]\$(?!\d)")
# ... remark-emoji (on text, not code) when this matches the source, and it knows no name without a
# letter or digit; `:material/` is rewritten in the raw source, code included, and `:material_name:`,
# `:streamlit:` become icons in text; GFM turns these addresses into links in text.
_STREAMLIT_EMOJI = re.compile(r":(?!material/|streamlit:)[\w+-]*[A-Za-z0-9][\w+-]*:")
_SHORTCODE_IN_TEXT = re.compile(r":[\w+-]*[A-Za-z0-9][\w+-]*:")
_BARE_LINK = re.compile(r"(?i)(?<!\u200b)(?:https?://|www\.)|@(?!\u200b)")


def streamlit_renders_math(source: str) -> bool:
    if "$" not in source:
        return False
    stripped = _STREAMLIT_CODE.sub("_", source)
    return bool(_STREAMLIT_DISPLAY_MATH.search(stripped) or _STREAMLIT_INLINE_MATH.search(stripped))


def inline_tokens(source: str) -> list:
    found = []
    for token in PARSER.parse(source):
        found.append(token)
        found.extend(token.children or [])
    return found


def _prose_outside_code(source: str) -> str:
    """The source with our code spans and fenced blocks (each of our unescaped backtick runs is a fence
    of ours) replaced by `¤`, so the escapes of the prose can be checked."""
    source = re.sub(r"(?m)^(`{3,})[^\n`]*\n[\s\S]*?\n\1$", "¤", source)
    out, index = [], 0
    while index < len(source):
        if source[index] == "\\":
            out.append(source[index : index + 2])
            index += 2
        elif source[index] == "`":
            run = re.match(r"`+", source[index:]).group()
            close = re.compile(rf"(?<!`){run}(?!`)").search(source, index + len(run))
            assert close, f"an unmatched backtick run in {source!r}"
            out.append("¤")
            index = close.end()
        else:
            out.append(source[index])
            index += 1
    return "".join(out)


def dangers(source: str) -> list[str]:
    """What in this markdown would load, link, run or turn into something else in Streamlit."""
    found = []
    for token in inline_tokens(source):
        if token.type in ("link_open", "image", "html_inline", "html_block"):
            found.append(f"{token.type}: {token.content or token.attrs}")
        if token.type == "text":
            found += [f"bare link at {m.start()} of {token.content!r}" for m in _BARE_LINK.finditer(token.content)]
            found += [f"shortcode {m.group()!r}" for m in _SHORTCODE_IN_TEXT.finditer(token.content)]
    if ":material/" in source:
        found.append("an icon prefix Streamlit rewrites")
    prose = _prose_outside_code(source)
    if streamlit_renders_math(prose):
        found.append("math")
    if _STREAMLIT_EMOJI.search(prose):
        found.append("an emoji shortcode")
    # a colon before a letter or digit starts a directive (`:red[...]`), before a slash an address
    for match in re.finditer(r"(?<!\\)(?:\\\\)*(?P<c>[\[\]<&$]|:(?=[A-Za-z0-9/]))", prose):
        found.append(
            f"unescaped {match.group('c')!r} in prose {prose[max(0, match.start() - 20) : match.end() + 20]!r}"
        )
    return found


def shown_text(source: str) -> str:
    """What a reader sees of one line of markdown: its inline text, zero-width spaces aside."""
    parts = []
    for token in inline_tokens(source):
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts).replace(ZERO_WIDTH_SPACE, "")


@pytest.mark.parametrize("payload", ALL_PAYLOADS)
def test_no_payload_loads_links_or_runs_anything(payload):
    rendered = {
        "safe_markdown": _text.safe_markdown(payload),
        "a quoted comment": "> " + _text.safe_markdown(payload).replace("\n", "\n> "),
        "plain": _text.plain(payload),
        "code": f"model {_text.code(payload)}",
        "code in a table": f"| a | b |\n|---|---|\n| {_text.code(payload)} | x |",
        "quoted": f"Thread {_text.quoted(payload)} was not found.",
        **{f"block {n}": block.body for n, block in enumerate(_text.blocks(payload)) if block.kind == "markdown"},
    }
    for how, source in rendered.items():
        assert dangers(source) == [], f"{how}: {source!r}"


def test_the_reported_code_span_across_paragraphs_is_text():
    payload = "`x\n\n![c](https://evil.example/c.png) [phish](https://evil.example/login)\n\n`"
    source = _text.safe_markdown(payload)
    assert [t.type for t in inline_tokens(source) if t.type in ("image", "link_open", "code_inline")] == []
    assert "![c](https://evil.example/c.png) [phish](https://evil.example/login)" in shown_text(source)


@settings(max_examples=400, deadline=None)
@given(HOSTILE_TEXT)
def test_any_text_as_prose_loads_links_or_runs_nothing(text):
    assert dangers(_text.safe_markdown(text)) == []
    assert dangers("> " + _text.safe_markdown(text).replace("\n", "\n> ")) == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(HOSTILE_TEXT, ANY_TEXT))
def test_plain_shows_the_text_exactly_as_written(text):
    source = _text.plain(text)
    assert dangers(source) == []
    one_line = re.sub(r"\r\n?|[\n\v\f\x1c-\x1e\x85\u2028\u2029]", " ", text).strip()
    assert shown_text(source) == one_line


@settings(max_examples=300, deadline=None)
@given(st.one_of(HOSTILE_TEXT, ANY_TEXT))
def test_code_shows_the_text_exactly_also_inside_a_table(text):
    one_line = re.sub(r"\r\n?|[\n\v\f\x1c-\x1e\x85\u2028\u2029]", " ", text)
    assert shown_text(f"x {_text.code(text)} y") == f"x {one_line} y"
    table = inline_tokens(f"| name | n |\n|---|---|\n| {_text.code(text)} | 1 |")
    cells = [token for token in table if token.type == "td_open"]
    assert len(cells) == 2, "a pipe in the text split the table's cell"


def test_quoted_is_a_cut_repr_shown_as_text():
    value = "![x](https://evil.example/p.png)" + "y" * 300
    assert shown_text(_text.quoted(value)) == repr(value[:200])
    assert shown_text(_text.quoted("2026-13-01\n", limit=20)) == repr("2026-13-01\n")


AGENT_ANSWER = """## Plan for the trip

Here is what I found, with **bold**, *italics*, ~~strike~~ and `inline code` like `a[0]`, `cmd | grep x`,
a time of 10:30, a price of $5 to $10, `` `ticks` `` and C:\\Users\\me.

1. Day one: temples
2. Day two: food
   - sushi

> Source: https://example.com/page or www.example.com, write to mail@example.com.

| Column | Value | Note |
|:-------|------:|:----:|
| a      | `x|y` | ok   |

```python
def first(rows):
    return rows[0]["id"]  # <b> & $x$ [a](b)
```
"""


def test_agent_markdown_still_reads_well():
    source = _text.safe_markdown(AGENT_ANSWER)
    assert dangers(source) == []
    tokens = inline_tokens(source)
    kinds = {token.type for token in tokens}
    assert {"heading_open", "strong_open", "em_open", "s_open", "ordered_list_open", "bullet_list_open"} <= kinds
    assert {"blockquote_open", "table_open", "fence"} <= kinds
    assert [t.content for t in tokens if t.type == "code_inline"] == [
        "inline code",
        "a[0]",
        "cmd ",
        " grep x",
        "`ticks`",
        "x",
        "y",
    ]
    aligned = [t.attrGet("style") for t in tokens if t.type == "th_open"]
    assert aligned == ["text-align:left", "text-align:right", "text-align:center"]
    fence = next(t for t in tokens if t.type == "fence")
    assert (fence.info, fence.content) == ("python", 'def first(rows):\n    return rows[0]["id"]  # <b> & $x$ [a](b)\n')
    text = shown_text(source)
    for phrase in ("10:30", "$5 to $10", "C:\\Users\\me", "https://example.com/page", "mail@example.com", "Day two"):
        assert phrase in text


def test_blocks_give_fenced_code_to_st_code_and_the_rest_as_safe_markdown():
    answer = "Intro [a](https://evil.example/x)\n~~~python {onload}\nprint('<b>')\n~~~\nMiddle\n````\n```\n````\nEnd"
    assert _text.blocks(answer) == [
        _text.Block("markdown", "Intro \\[a\\](\u200bhttps\\://evil.example/x)"),
        _text.Block("code", "print('<b>')", "python"),
        _text.Block("markdown", "Middle"),
        _text.Block("code", "```", None),
        _text.Block("markdown", "End"),
    ]
    # an unclosed fence runs to the end, as in CommonMark; a backtick fence's info holds no backtick
    assert _text.blocks("a\n```js\nx\n\ny") == [_text.Block("markdown", "a"), _text.Block("code", "x\n\ny", "js")]
    assert [block.kind for block in _text.blocks("```a`b\nc")] == ["markdown"]
    assert _text.blocks("") == [] and _text.blocks(None) == []


def test_chart_labels_draw_no_tags():
    assert _text.chart_label('<a href="https://evil.example/x">gpt-evil</a> & co') == (
        '&lt;a href="https://evil.example/x"&gt;gpt-evil&lt;/a&gt; &amp; co'
    )
    assert _text.chart_label(None) == ""
    for payload in ALL_PAYLOADS:
        assert "<" not in _text.chart_label(payload) and ">" not in _text.chart_label(payload)
