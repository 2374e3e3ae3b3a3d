"""``GET /api/v1/categories``: the vocabulary of asset categories, with their names."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Viewer
from api.categories import shipped
from api.schemas import problems
from api.services import ServicesDep

router = APIRouter(prefix="/api/v1", tags=["categories"], dependencies=[Viewer])


class CategoryOut(BaseModel):
    """An asset category and its names."""

    id: str
    en: str = Field(description="Name in English")
    zh: str = Field(description="Name in Simplified Chinese")
    aliases: list[str] = Field(description='Other words for it ("did you mean" hints)')
    site: bool = Field(description="Added by this site's configuration, not shipped by facmon")


@router.get(
    "/categories",
    response_model=list[CategoryOut],
    responses=problems(401, 403),
    summary="List the asset categories",
)
async def list_categories(services: ServicesDep) -> list[CategoryOut]:
    """Every category an asset may have: facmon's own, then the site's, in order."""
    own = shipped()
    return [
        CategoryOut(id=c.id, en=c.en, zh=c.zh, aliases=list(c.aliases), site=c.id not in own)
        for c in services.categories
    ]
