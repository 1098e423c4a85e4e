"""Schema pieces every domain shares: text fields, pages, the problem document."""

import unicodedata
from collections.abc import Iterable
from typing import Annotated, Any, Generic, TypeVar, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


def _printable(value: str) -> str:
    # Control and format characters break CSV exports and badges, and no real name has them.
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _single_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        raise ValueError("must be a single line")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_printable),
    AfterValidator(_single_line),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=300),
    AfterValidator(_printable),
    AfterValidator(_single_line),
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=10_000), AfterValidator(_printable)
]

Limit = Annotated[int, Field(ge=1, le=500, description="Items per page (at most 500).")]


def refuse_nulls(model: BaseModel, fields: Iterable[str]) -> None:
    """JSON merge semantics: null clears a field, so one that cannot be empty refuses it (422)
    instead of taking null as 'leave it'."""
    for name in sorted(model.model_fields_set & set(fields)):
        if getattr(model, name) is None:
            raise ValueError(f"{name} cannot be null")


class StrictModel(BaseModel):
    """An input schema: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to read the next page; null on the last page."
    )


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://errors.example/standards-matchmaking/designation-taken",
                    "title": "Designation already in use",
                    "status": 409,
                    "detail": "A committee with designation ISO/TC 299 already exists.",
                    "instance": "/v1/committees",
                    "code": "designation_taken",
                }
            ]
        },
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


def examples(*items: dict[str, Any]) -> ConfigDict:
    """A model config carrying examples taken from the demo event."""
    return ConfigDict(json_schema_extra={"examples": list(items)})


def examples_of(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A model's examples (none when its config has none), to build a larger model's from."""
    extra = model.model_config.get("json_schema_extra")
    return cast(list[dict[str, Any]], extra.get("examples", [])) if isinstance(extra, dict) else []
