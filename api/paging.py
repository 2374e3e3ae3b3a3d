"""Lists a page at a time: the ``limit`` and ``offset`` query parameters and the page answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar, TypeVarTuple

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select

Limit = Annotated[int, Query(ge=1, le=1000)]
"""Most items in one answer."""
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
"""Items skipped before the first one answered."""

Out = TypeVar("Out", bound=BaseModel)
T = TypeVar("T")
Columns = TypeVarTuple("Columns")


class Page(BaseModel, Generic[Out]):
    """One page of a list."""

    items: list[Out]
    total: int = Field(description="Items matching the filters, on all pages")
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Paging:
    """Which page of a list is asked for."""

    limit: int
    offset: int

    def window(self, items: Sequence[T]) -> Sequence[T]:
        """The items of this page, out of all of them."""
        return items[self.offset : self.offset + self.limit]

    def select(self, query: Select[*Columns]) -> Select[*Columns]:
        """``query`` reading only this page."""
        return query.limit(self.limit).offset(self.offset)


def paging(limit: Limit = 100, offset: Offset = 0) -> Paging:
    """The page a list route is asked for, from its query parameters."""
    return Paging(limit, offset)


PagingQuery = Annotated[Paging, Depends(paging)]
"""A list route's parameter receiving the page asked for."""
