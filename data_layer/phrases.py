"""Words and two-word phrases of a comment, in English and Chinese, without stop words.

English is lower-cased and split into words; Chinese runs of text are split into words by `jieba`
(Chinese has no spaces between words). Stop words are dropped, and two neighbouring kept words
make a bigram ("outdated information", "信息过时") unless punctuation or a dropped word stood
between them, so a bigram is always a phrase that was really written.
"""

from __future__ import annotations

import logging
import re
import threading

import jieba

jieba.setLogLevel(logging.WARNING)
_JIEBA_READY = threading.Lock()
_initialized = False

ENGLISH_STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
    each etc few for from further get gets got had hadn't has hasn't have haven't having he her here hers herself
    him himself his how i i'm if in into is isn't it it's its itself just let's like may me might more most much
    must mustn't my myself no nor not now of off on once one only or other ought our ours ourselves out over own
    please same shall shan't she should shouldn't so some such than that that's the their theirs them themselves
    then there there's these they they're this those through thus to too under until up upon us very was wasn't
    we we're were weren't what what's when where which while who whom why will with won't would wouldn't yet you
    you're your yours yourself yourselves""".split()
)
CHINESE_STOP_WORDS = frozenset(
    """的 了 是 在 和 与 或 也 都 就 而 及 着 把 被 让 给 对 从 到 为 以 于 上 下 中 这 那 这个 那个 这些 那些 一个 一些
    我 你 他 她 它 我们 你们 他们 她们 它们 自己 有 没 没有 不 很 太 还 又 再 请 吗 呢 吧 啊 呀 之 其 该 等 但 但是
    如果 因为 所以 可以 能 会 要 就是 还是 已经 非常 比较 什么 怎么 如何 哪 谁""".split()
)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A chunk is a run of Chinese characters or of Latin words; anything else (punctuation) ends a clause.
_CHUNKS = re.compile(rf"(?P<zh>[{_CJK}]+)|(?P<en>[A-Za-z0-9][A-Za-z0-9'’\-]*)|(?P<gap>[^\sA-Za-z0-9{_CJK}]+)")


def _segment(text: str) -> list[str]:
    global _initialized
    if not _initialized:
        with _JIEBA_READY:  # jieba builds its dictionary lazily and not thread-safely
            jieba.initialize()
            _initialized = True
    return jieba.lcut(text, HMM=True)


def _english(word: str) -> str | None:
    word = word.lower().replace("’", "'").strip("'-")
    if not word or word in ENGLISH_STOP_WORDS or word.isdigit() or len(word) < 2:
        return None
    return word


def _chinese(word: str) -> str | None:
    if word in CHINESE_STOP_WORDS or len(word) < 2:
        return None
    return word


def tokens(text: str | None) -> list[list[tuple[str, str]]]:
    """The kept words of `text` as clauses of `(word, language)`; a stop word or punctuation
    splits a clause, so only words that stood side by side share one."""
    clauses: list[list[tuple[str, str]]] = [[]]
    for match in _CHUNKS.finditer(text or ""):
        if match.group("gap"):
            clauses.append([])
            continue
        if match.group("en"):
            kept = _english(match.group("en"))
            if kept:
                clauses[-1].append((kept, "en"))
            else:
                clauses.append([])
            continue
        for word in _segment(match.group("zh")):
            kept = _chinese(word)
            if kept:
                clauses[-1].append((kept, "zh"))
            else:
                clauses.append([])
    return [clause for clause in clauses if clause]


def phrases(text: str | None) -> set[str]:
    """The distinct words and bigrams of a comment (Chinese bigrams are written without a space)."""
    found: set[str] = set()
    for clause in tokens(text):
        for index, (word, language) in enumerate(clause):
            found.add(word)
            if index:
                previous, previous_language = clause[index - 1]
                joiner = "" if language == previous_language == "zh" else " "
                found.add(previous + joiner + word)
    return found


def language(phrase: str) -> str:
    return "zh" if re.search(f"[{_CJK}]", phrase) else "en"
