"""The evaluation datasets' endpoints: the list of snapshots, and each snapshot's JSONL, Parquet and card
as downloads. Each calls `data_layer.datasets`, which authorizes the caller itself; a file is streamed a
stored part at a time."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from data_layer import auth, datasets
from data_layer.api.dependencies import caller, store
from data_layer.api.models import errors
from data_layer.api.routes import declarer
from data_layer.datasets.spec import NAME_PATTERN

ROUTES: list = []
route = declarer(ROUTES)

DatasetName = Annotated[str, Path(pattern=f"^{NAME_PATTERN}$", max_length=100)]
Version = Annotated[int, Path(ge=1, le=10**9)]
# The file's extension in the URL, and the snapshot's file it names.
_EXTENSIONS = {"jsonl": "jsonl", "parquet": "parquet", "md": "card"}


class File(BaseModel):
    file: str
    bytes: int
    sha256: str


class Dataset(BaseModel):
    name: str
    version: int
    created_at: str
    created_by: str
    verdict: str
    filters: dict
    queue: str | None
    items: int
    counts: dict[str, int]
    files: dict[str, File]


@route(
    "GET",
    "/datasets",
    response_model=list[Dataset],
    responses=errors(401, 403),
    summary="Every dataset snapshot, by name and newest version first, with its counts and files",
)
def list_datasets(actor: auth.Actor = Depends(caller)) -> list[dict]:
    return datasets.listing(store(), actor=actor)


_FILE_TYPES = {
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in ("application/x-ndjson", "application/vnd.apache.parquet", "text/markdown")
}


@route(
    "GET",
    "/datasets/{name}/{version}.{extension}",
    response_class=StreamingResponse,
    responses={200: {"description": "the file", "content": _FILE_TYPES}, **errors(400, 401, 403, 404)},
    summary="One file of a snapshot: `.jsonl` (one item per line), `.parquet`, or `.md` (its card, README.md)",
)
def download_dataset(
    name: DatasetName,
    version: Version,
    extension: Literal["jsonl", "parquet", "md"],
    actor: auth.Actor = Depends(caller),
) -> StreamingResponse:
    fmt = _EXTENSIONS[extension]
    found = datasets.get(store(), name, version, actor=actor)
    blocks = datasets.content(store(), name, version, fmt, actor=actor)
    headers = {
        "Content-Disposition": f'attachment; filename="{datasets.file_name(found, fmt)}"',
        "Content-Length": str(found["files"][fmt]["bytes"]),
    }
    return StreamingResponse(blocks, media_type=datasets.MEDIA_TYPES[fmt], headers=headers)
