"""The message-search index: its tables, the statements that fill it, and the search filter that reads it.

Words are the lower-cased runs of a message's text between ASCII whitespace and punctuation
(`engines.WORD_SEPARATORS`). The index holds:

- `search_threads (thread_no, thread_id)`: a small integer per thread that has messages, so that the
  postings are two or three integers a row (compact, and sorted they let DuckDB's zone maps skip);
- `search_words (word_id, word)`: every distinct word once (3.2 million at the large benchmark scale);
- `message_terms (word_id, thread_no)`: which threads hold a word;
- `message_pairs (first_id, second_id, thread_no)`: which threads hold two words next to each other.

A search for one word scans the vocabulary (a seventh of the postings, short strings) for the words
that contain it and reads the postings of those few ids; a search for two words reads the pairs of
(words ending with the first, words starting with the second); three or more words match the texts with
a regular expression, on DuckDB only those of the threads holding the first and the last pair. What a
search matches, and why each shape: `threads.search_clause` and the comments above it.

The fill is set-based SQL, the same on both engines except how a text becomes its list of words and
its adjacent pairs (`index_terms` in engines/duck.py and engines/pg.py). New ids continue from the
largest stored one; on PostgreSQL a transaction-scoped advisory lock makes concurrent fills take turns.
"""

from __future__ import annotations

TABLES = ("search_threads", "search_words", "message_terms", "message_pairs")

TABLES_SQL = """
CREATE TABLE search_threads (
    thread_no INTEGER NOT NULL,
    thread_id TEXT NOT NULL
);
CREATE TABLE search_words (
    word_id INTEGER NOT NULL,
    word    TEXT NOT NULL
);
CREATE TABLE message_terms (
    word_id   INTEGER NOT NULL,
    thread_no INTEGER NOT NULL
);
CREATE TABLE message_pairs (
    first_id  INTEGER NOT NULL,
    second_id INTEGER NOT NULL,
    thread_no INTEGER NOT NULL
)
"""

_TEMP = ("_search_new_threads", "_search_tokens", "_search_ids")

# The stored threads with the ones the fill numbers, for the engines' token statements to join as `s`.
THREADS = """(SELECT thread_no, thread_id FROM search_threads
    UNION ALL SELECT thread_no, thread_id FROM _search_new_threads)"""


# The message events of table `source` (a format field) whose threads the index does not number yet,
# numbered after the largest stored number in the order of their ids.
NEW_THREADS_SELECT = """
    SELECT m.top + row_number() OVER (ORDER BY n.thread_id) AS thread_no, n.thread_id
    FROM (
        SELECT DISTINCT e.thread_id FROM {source} e
        WHERE e.category = 'message' AND e.text <> ''
          AND NOT EXISTS (SELECT 1 FROM search_threads s WHERE s.thread_id = e.thread_id)
    ) n
    CROSS JOIN (SELECT coalesce(max(thread_no), 0) AS top FROM search_threads) m
    """


def ids_select(words: str) -> str:
    """Each row of `words` (a query of distinct words in a column `word`, and any other columns) with
    `fresh` (a word the index lacks) and its `word_id`: the stored one, else the next free one, in
    alphabetical order so that the ids of the words sharing a prefix are neighbours."""
    return f"""
        SELECT n.*, v.word_id IS NULL AS fresh,
               coalesce(v.word_id, m.top + row_number() OVER (PARTITION BY v.word_id IS NULL ORDER BY n.word))
                   AS word_id
        FROM ({words}) n
        LEFT JOIN search_words v ON v.word = n.word
        CROSS JOIN (SELECT coalesce(max(word_id), 0) AS top FROM search_words) m
        """


def compute_statements(source: str, tokens: str) -> list[str]:
    """The statements working out the threads and words that adding the message events of table `source`
    brings, as temporary tables: `_search_new_threads`, `_search_tokens` and `_search_ids` (`fresh` for a
    new word). They only read the index, so they may run on a connection other than the writer's.

    `tokens` is the engine's SELECT of (thread_no, words) per message of `source` joined to `THREADS` as `s`.
    """
    return [
        *(f"DROP TABLE IF EXISTS {table}" for table in _TEMP),
        f"CREATE TEMP TABLE _search_new_threads AS {NEW_THREADS_SELECT.format(source=source)}",
        f"CREATE TEMP TABLE _search_tokens AS {tokens}",
        f"CREATE TEMP TABLE _search_ids AS {ids_select('SELECT DISTINCT unnest(words) AS word FROM _search_tokens')}",
    ]


# The postings of the temporary tables above. They go in sorted by word, so that on DuckDB a search
# reads the few row groups holding its words' ids.
TERMS = """
    SELECT i.word_id, o.thread_no
    FROM (SELECT DISTINCT thread_no, unnest(words) AS word FROM _search_tokens) o
    JOIN _search_ids i ON i.word = o.word
    ORDER BY 1, 2
    """


def pairs_select(pairs: str) -> str:
    """The pair postings, from `pairs`: the engine's SELECT of the distinct (thread_no, first_word,
    second_word) of `_search_tokens`."""
    return f"""
    SELECT a.word_id AS first_id, b.word_id AS second_id, p.thread_no
    FROM ({pairs}) p
    JOIN _search_ids a ON a.word = p.first_word
    JOIN _search_ids b ON b.word = p.second_word
    ORDER BY 1, 2, 3
    """


NEW_THREADS = "SELECT thread_no, thread_id FROM _search_new_threads"
NEW_WORDS = "SELECT word_id, word FROM _search_ids WHERE fresh ORDER BY word_id"


def store_statements(threads: str, words: str, terms: str, pairs: str) -> list[str]:
    """The statements adding to the index the rows of four queries: new threads, new words, postings, pairs."""
    return [
        f"INSERT INTO search_threads (thread_no, thread_id) {threads}",
        f"INSERT INTO search_words (word_id, word) {words}",
        f"INSERT INTO message_terms (word_id, thread_no) {terms}",
        f"INSERT INTO message_pairs (first_id, second_id, thread_no) {pairs}",
    ]


def fill_statements(source: str, tokens: str, pairs: str) -> list[str]:
    """The statements adding the message events of table `source` to the index, in one transaction
    (`tokens`: see `compute_statements`; `pairs`: see `pairs_select`)."""
    return [
        *compute_statements(source, tokens),
        *store_statements(NEW_THREADS, NEW_WORDS, TERMS, pairs_select(pairs)),
        *(f"DROP TABLE {table}" for table in _TEMP),
    ]
