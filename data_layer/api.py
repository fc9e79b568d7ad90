"""The REST API of the source system's feedback endpoints, served beside the dashboard under /api."""

from __future__ import annotations

from fastapi import FastAPI


def create_api() -> FastAPI:
    api = FastAPI(title="Agent feedback API", servers=[{"url": "/api"}])

    @api.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    return api
