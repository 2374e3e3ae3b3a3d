"""Documents attached to assets: manuals, contracts, inspection reports (any file type)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Operator, Viewer
from api.records import DocumentInfo, described
from api.registry.models import Asset, Document
from api.schemas import NumberId, SlugId, problems, read_body
from api.services import ServicesDep
from facmon.types import SLUG_MAX, SLUG_PATTERN

router = APIRouter(prefix="/api/v1", tags=["documents"])

MAX_BYTES = 20 * 1024 * 1024
"""Largest document accepted."""
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_ERRORS = problems(401, 403, 404)


@router.post(
    "/assets/{item}/documents",
    response_model=DocumentInfo,
    status_code=201,
    responses=problems(401, 403, 404, 413),
    summary="Attach a document to an asset",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    dependencies=[Operator],
)
async def attach(
    item: SlugId,
    request: Request,
    services: ServicesDep,
    name: Annotated[str, Query(min_length=1, max_length=200, description="The file's name")],
) -> DocumentInfo:
    """Store the request's body as a document of the asset, with its Content-Type."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not _MEDIA_TYPE.match(media):
        media = "application/octet-stream"
    body = await read_body(request, MAX_BYTES, "a document")
    async with services.sessions() as session:
        if await session.get(Asset, item) is None:
            raise HTTPException(404, f"no asset {item!r}")
        document = Document(
            asset_id=item,
            name=name,
            content_type=media,
            size=len(body),
            uploaded_at=datetime.now(UTC),
            content=body,
        )
        session.add(document)
        await session.commit()
        await session.refresh(document)
        return _info(document)


@router.get(
    "/documents",
    response_model=list[DocumentInfo],
    responses=_ERRORS,
    summary="List the documents of an asset",
    dependencies=[Viewer],
)
async def documents(
    services: ServicesDep,
    asset_id: Annotated[str, Query(pattern=SLUG_PATTERN, max_length=SLUG_MAX)],
) -> list[DocumentInfo]:
    """The asset's documents, newest first (without their content)."""
    async with services.sessions() as session:
        rows = await session.execute(described().where(Document.asset_id == asset_id))
        return [DocumentInfo.model_validate(row._mapping) for row in rows]


@router.get(
    "/documents/{number}",
    response_model=DocumentInfo,
    responses=_ERRORS,
    summary="Describe a document",
    dependencies=[Viewer],
)
async def describe(number: NumberId, services: ServicesDep) -> DocumentInfo:
    """The document's name, type, size and upload time."""
    async with services.sessions() as session:
        row = (await session.execute(described().where(Document.id == number))).first()
    if row is None:
        raise HTTPException(404, f"no document {number}")
    return DocumentInfo.model_validate(row._mapping)


@router.get(
    "/documents/{number}/content",
    responses={**_ERRORS, 200: {"content": {"*/*": {}}}},
    summary="Download a document",
    dependencies=[Viewer],
)
async def content(number: NumberId, services: ServicesDep) -> Response:
    """The document itself, as uploaded."""
    async with services.sessions() as session:
        document = await _find(session, number)
        disposition = f"attachment; filename*=UTF-8''{quote(document.name, safe='')}"
        return Response(
            document.content,
            media_type=document.content_type,
            headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
        )


@router.delete(
    "/documents/{number}",
    status_code=204,
    responses=_ERRORS,
    summary="Delete a document",
    dependencies=[Operator],
)
async def delete(number: NumberId, services: ServicesDep) -> Response:
    """Delete the document."""
    async with services.sessions() as session:
        await session.delete(await _find(session, number))
        await session.commit()
    return Response(status_code=204)


async def _find(session: AsyncSession, number: int) -> Document:
    document = await session.get(Document, number)
    if document is None:
        raise HTTPException(404, f"no document {number}")
    return document


def _info(document: Document) -> DocumentInfo:
    return DocumentInfo.model_validate(
        {name: getattr(document, name) for name in DocumentInfo.model_fields}
    )
