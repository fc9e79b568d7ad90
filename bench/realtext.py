"""Import files whose messages read like real chats, for the import benchmark.

Short generated sentences flatter an import: the word index, the JSON parser and every copy of a text
cost by the byte and by the distinct word. Here the shape follows a real chat corpus (17,500 threads,
68,000 runs, 129,000 messages, 200,000 votes; 160 MB of text):

- about 3.9 runs per thread, a question and an answer per run, and one run in five calling a tool;
- about 3 votes per run from 50 reviewers, a third with a comment, some with reason tags;
- answers of log-normal length, median about 1.5 KB with a long tail past 30 KB (capped at 60 KB);
  questions median about 200 bytes;
- prose from a Zipf-distributed vocabulary of common words and 200,000 rarer ones (so the index meets
  a long tail of distinct words), fenced code blocks, markdown tables and lists, and one message in
  five in another language: Chinese (no spaces between words), Spanish, German, French or Russian.

`write_file` writes the same record kinds as `generate.write_import_file`, so the importer, the
SQLite baseline and every engine read the same lines.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np

from bench.generate import ANCHOR, ASSISTANTS, MODELS, random_uuid

REVIEWERS = 50
TAGS = ("incorrect", "not_as_expected", "slow", "style_tone")
ANSWER_MEDIAN, ANSWER_SIGMA, ANSWER_CAP = 1_500, 1.25, 60_000
QUESTION_MEDIAN, QUESTION_SIGMA = 200, 0.9

_COMMON = (
    "the of and to a in is that for it as with was on be by this are or you can an not your from at have "
    "if will use which but all one has more when there their we so what also other some than about only "
    "into then these each may would them like new need how should make time data file value first run "
    "user code function error table query model request response page step example default list set "
    "type name result server client version config string number return call key field object method"
).split()
_CODE = (
    "def return import from class self None True False for in if else elif while try except raise with "
    "as lambda yield async await print len range dict list str int float open json os sys path requests "
    "pandas df np array config client session response data items key value result error logger"
).split()
_LANGUAGES = {
    "es": "el la de que y en los se del las un por con no una su para es al lo como más pero sus le ya o "
    "este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante "
    "uno ni contra ese eso ante ellos e esto mí antes algunos qué unos yo otro otras otra él tanto esa "
    "datos archivo consulta función respuesta servidor configuración año niño",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden "
    "aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder "
    "aber vor zur bis mehr durch man sein wurde sei Daten Datei Abfrage Funktion Größe Schlüssel über "
    "prüfen Lösung",
    "fr": "le de un être et à il avoir ne je son que se qui ce dans en du elle au pour pas que vous par sur "
    "faire plus dire me on mon lui nous comme mais pouvoir avec tout y aller voir en bien où sans tu ou "
    "leur homme si deux données fichier requête fonction réponse serveur déjà très où",
    "ru": "и в не на я быть он с что а по это она этот к но они мы как из у который то за свой что весь год "
    "от так о для ты же все тот мочь вы человек такой его сказать только или ещё бы себя один как данные "
    "файл запрос функция ответ сервер ошибка таблица",
}
# Common Chinese characters (the most frequent few hundred in Unicode order are enough for the shape:
# runs of characters with no space, broken by full-width punctuation the word index does not split on).
_HAN = "".join(chr(code) for code in range(0x4E00, 0x4E00 + 3_000))
_HAN_PUNCT = "，。；：？！、"


class TextMaker:
    """Texts of a chosen length from a fixed vocabulary, deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        syllables = np.array([c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")])
        parts = self.rng.integers(0, len(syllables), (200_000, 4))
        sizes = self.rng.integers(2, 5, 200_000)
        rare = ["".join(syllables[row[:size]]) for row, size in zip(parts, sizes)]
        self.vocabulary = np.array(_COMMON + rare, dtype=object)
        self.languages = {code: np.array(words.split(), dtype=object) for code, words in _LANGUAGES.items()}
        self.code_words = np.array(_CODE, dtype=object)

    def _zipf(self, size: int, vocabulary: np.ndarray) -> np.ndarray:
        ranks = self.rng.zipf(1.15, size) - 1
        return vocabulary[ranks % len(vocabulary)]

    def _prose(self, length: int, vocabulary: np.ndarray) -> str:
        words = self._zipf(max(1, length // 6), vocabulary)
        sentences, start = [], 0
        while start < len(words):
            end = start + int(self.rng.integers(6, 22))
            sentence = " ".join(words[start:end])
            sentences.append(sentence[:1].upper() + sentence[1:] + self.rng.choice((".", ".", ".", ",", "?", ":")))
            start = end
        return " ".join(sentences)

    def _chinese(self, length: int) -> str:
        count = max(1, length // 3)
        ranks = (self.rng.zipf(1.3, count) - 1) % len(_HAN)
        chars = [_HAN[rank] for rank in ranks]
        for at in range(int(self.rng.integers(8, 30)), count, int(self.rng.integers(8, 30))):
            chars[at] = _HAN_PUNCT[at % len(_HAN_PUNCT)]
        return "".join(chars)

    def _code(self, length: int) -> str:
        lines = []
        while sum(map(len, lines)) < length:
            indent = "    " * int(self.rng.integers(0, 3))
            words = self._zipf(int(self.rng.integers(2, 8)), self.code_words)
            lines.append(f"{indent}{words[0]} = {'.'.join(words[1:3])}({', '.join(words[3:])})")
        return "```python\n" + "\n".join(lines) + "\n```"

    def _table(self) -> str:
        columns = int(self.rng.integers(2, 6))
        rows = int(self.rng.integers(2, 12))
        head = self._zipf(columns, self.vocabulary)
        cells = self.rng.gamma(2.0, 40.0, (rows, columns))
        body = ["| " + " | ".join(f"{value:.2f}" for value in row) + " |" for row in cells]
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * columns, *body])

    def message(self, length: int) -> str:
        """A message of about `length` characters: prose in one language, with code, tables and lists."""
        pick = self.rng.random()
        if pick < 0.06:
            return self._chinese(length)
        if pick < 0.2:
            code = list(self.languages)[int(self.rng.integers(0, len(self.languages)))]
            return self._prose(length, self.languages[code])
        blocks, size = [], 0
        while size < length:
            shape = self.rng.random()
            if shape < 0.12 and length > 600:
                block = self._code(int(min(length - size, self.rng.integers(200, 2_000))))
            elif shape < 0.2 and length > 600:
                block = self._table()
            elif shape < 0.3:
                items = (self._prose(int(self.rng.integers(30, 120)), self.vocabulary) for _ in range(3))
                block = "\n".join(f"- {item}" for item in items)
            else:
                block = self._prose(int(min(length - size, self.rng.integers(150, 900))), self.vocabulary)
            blocks.append(block)
            size += len(block) + 2
        return "\n\n".join(blocks)

    def length(self, median: int, sigma: float, cap: int) -> int:
        return int(min(cap, max(5, self.rng.lognormal(np.log(median), sigma))))


def write_file(path: str, records: int, seed: int = 5, random_ids: bool = False) -> dict:
    """A JSONL file of about `records` new records whose messages read like real chats.

    Ids carry the seed and sort after the generated ones, as in `generate.write_import_file`; with
    `random_ids` a thread's id is a random UUID-like one instead.
    """
    maker = TextMaker(seed)
    rng = maker.rng
    counts = {"thread": 0, "run": 0, "event": 0, "feedback": 0}
    written = thread_no = text_bytes = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < records:
            thread_id = random_uuid(rng) if random_ids else f"real{seed}-t{thread_no:07d}"
            start = ANCHOR - timedelta(days=float(rng.uniform(0, 30)))
            lines: list[dict] = [
                {
                    "kind": "thread",
                    "thread_id": thread_id,
                    "assistant_id": ASSISTANTS[thread_no % len(ASSISTANTS)],
                    "created_at": start.isoformat(),
                }
            ]
            seq = 0
            for run_no in range(1 + int(rng.poisson(2.9))):
                run_id = f"{thread_id}-r{run_no}"
                created = start + timedelta(minutes=7 * run_no)
                lines.append(
                    {
                        "kind": "run",
                        "run_id": run_id,
                        "thread_id": thread_id,
                        "status": "success" if rng.random() < 0.93 else "error",
                        "model_name": MODELS[int(rng.integers(0, len(MODELS)))],
                        "total_input_tokens": int(rng.integers(300, 30_000)),
                        "created_at": created.isoformat(),
                        "updated_at": (created + timedelta(seconds=30)).isoformat(),
                    }
                )
                turn = [("human_message", "human", maker.message(maker.length(QUESTION_MEDIAN, QUESTION_SIGMA, 8_000)))]
                if rng.random() < 0.2:
                    turn += [
                        ("ai_tool_call", "ai", ""),
                        ("tool_result", "tool", json.dumps({"results": maker.message(300).split(". ")[:5]})),
                    ]
                turn.append(("ai_message", "ai", maker.message(maker.length(ANSWER_MEDIAN, ANSWER_SIGMA, ANSWER_CAP))))
                for event_type, role, text in turn:
                    seq += 1
                    text_bytes += len(text.encode())
                    lines.append(
                        {
                            "kind": "event",
                            "thread_id": thread_id,
                            "run_id": run_id,
                            "seq": seq,
                            "event_type": event_type,
                            "content": {"type": role, "content": text, "id": f"{run_id}-m{seq}"},
                            "created_at": (created + timedelta(seconds=seq)).isoformat(),
                        }
                    )
                reviewers = rng.choice(REVIEWERS, size=min(REVIEWERS, int(rng.poisson(3.0))), replace=False)
                for reviewer in sorted(reviewers):
                    rating = 1 if rng.random() < 0.72 else -1
                    tags = [TAGS[int(rng.integers(0, len(TAGS)))]] if rating < 0 and rng.random() < 0.4 else []
                    comment = maker.message(maker.length(120, 0.8, 2_000)) if rng.random() < 0.33 else None
                    lines.append(
                        {
                            "kind": "feedback",
                            "thread_id": thread_id,
                            "run_id": run_id,
                            "owner_id": f"reviewer-{reviewer:02d}@example.com",
                            "rating": rating,
                            "comment": comment,
                            "tags": tags,
                            "source": "reviewer",
                            "created_at": (created + timedelta(hours=2, minutes=int(reviewer))).isoformat(),
                        }
                    )
            for record in lines:
                counts[record["kind"]] += 1
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += len(lines)
            thread_no += 1
    return {"records": written, "counts": counts, "text_bytes": text_bytes}
