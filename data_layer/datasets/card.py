"""A dataset snapshot's card, `README.md` as the Hugging Face Hub reads it: YAML front matter, then where
the items came from (filters, queue, verdict rule), when and by whom, the counts, the files and their
fields, and a licence left for the dataset's owner to choose.

Values that came from outside (filter values, the creator's id) appear only inside a fenced JSON block
or as JSON strings, so nothing in them is read as markdown or YAML.
"""

from __future__ import annotations

import json

from data_layer.datasets.files import COUNTS
from data_layer.datasets.spec import VERDICTS

_FIELDS = """| field | what it holds |
|---|---|
| `messages` | the conversation up to the judged answer, as chat messages (`role`: system, user, assistant, tool) |
| `ideal` | the answer the agent should have given: the correction, else the answer when the verdict is good |
| `answer` | the agent's answer that was judged |
| `verdict` | `good`, `bad` or `disputed` (a tie), null before any reviewer vote |
| `verdict_by` | `adjudication` (a lead decided) or `reviewers` (their majority) |
| `correction` | a reviewer's corrected answer, or null |
| `run_id`, `thread_id`, `assistant_id`, `model_name`, `run_status`, `run_created_at` | the run judged |
| `reviewer_good`, `reviewer_bad` | the reviewers' whole-run votes each way |
| `adjudication_note`, `adjudicated_by` | a lead's reason and name, when the verdict was adjudicated |
| `tags`, `comments` | every vote's reason tags (once each) and comments |
| `reviews` | every vote on the run: reviewer, source, rating, comment, tags, rubric scores, message, correction, time |
"""


def text(dataset: dict) -> str:
    """The card of `dataset` (a stored snapshot's row: name, version, times, rule, counts, files)."""
    name, version = dataset["name"], dataset["version"]
    counts = dataset["counts"]
    source = {"filters": dataset["filters"], "queue": dataset["queue"]}
    files = "\n".join(
        f"| `{file['file']}` | {file['bytes']:,} | `{file['sha256']}` |" for file in dataset["files"].values()
    )
    return f"""---
pretty_name: {name} v{version}
license: null
task_categories:
- text-generation
configs:
- config_name: default
  data_files: dataset.parquet
---

# {name}, version {version}

An evaluation dataset of reviewed agent runs, written by the feedback review dashboard. A snapshot never
changes: a new snapshot of the same name is a new version.

- created: {dataset["created_at"]}
- created by: {json.dumps(dataset["created_by"])}
- verdict rule: `{dataset["verdict"]}`, {VERDICTS[dataset["verdict"]]}

## Source

```json
{json.dumps(source, indent=2, ensure_ascii=False)}
```

## Counts

| items | good | bad | disputed | no verdict | corrected | adjudicated |
|---|---|---|---|---|---|---|
| {" | ".join(str(counts[name]) for name in COUNTS)} |

## Files

| file | bytes | sha256 |
|---|---|---|
{files}

`dataset.jsonl` has one item per line, `{{"messages": [...], "ideal": ...}}` with the fields below;
`dataset.parquet` has the same columns (rubric scores as `criterion`, `value` pairs), and
`datasets.load_dataset("parquet", data_files="dataset.parquet")` reads it.

## Fields

{_FIELDS}
## Licence

Not set: the dataset's owner chooses it (the `license` field above).
"""
