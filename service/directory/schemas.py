"""Domains, committees and organizations in and out."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.directory.credit_code import is_valid_credit_code
from service.schemas import Absent, LongText, Name, PatchModel, ShortText, StrictModel

Level = Literal["international", "national", "industry", "provincial"]
Kind = Literal["enterprise", "association", "institute"]
DomainCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
Weight = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=100_000)]

COMMITTEE_EXAMPLE: dict[str, Any] = {
    "designation": "IEC TC 111",
    "level": "international",
    "name_zh": "电工电子产品与系统的环境标准化",
    "name_en": "Environmental standardization for electrical and electronic products and systems",
    "scope": "电工电子产品与系统的环境标准化，包括有害物质管控与生态设计。",
    "secretariat": None,
    "contact": {"name": "林晓雯", "email": "tc111@example.org", "phone": "+86 10 5555 0111"},
    "domains": [{"domain": "ee_product_environment", "weight": 1.0}],
}
ORGANIZATION_EXAMPLE: dict[str, Any] = {
    "kind": "institute",
    "name_zh": "冶金工业信息标准研究院",
    "name_en": "China Metallurgical Information and Standardization Institute",
    "credit_code": "12110000419832498X",
    "region": "北京市",
    "domains": [{"domain": "bulk_commodity_storage_transport", "weight": 0.8}],
    "needs": "推动大宗商品储运与冶金产品标准的协同制定。",
    "business_scope": "冶金工业标准化研究、标准样品研制与技术咨询服务。",
    "track_record": {"national": 12, "industry": 30, "zhejiang_made": 0},
}


class DomainOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0c2b1e-8a53-5c1e-9f7d-2b4a6c8d0e1f",
                    "code": "iot",
                    "parent": "emerging_fields",
                    "name_en": "Internet of Things",
                    "name_zh_hans": "物联网",
                    "name_zh_hant": "物聯網",
                    "synonyms": ["IoT", "Internet of Things", "物联网", "物聯網"],
                    "description_zh": "物联网、传感器、感知终端、设备联网、互操作",
                    "description_en": "Internet of Things, sensors, connected devices",
                }
            ]
        }
    )

    id: uuid.UUID
    code: str
    parent: str | None
    name_en: str
    name_zh_hans: str
    name_zh_hant: str
    synonyms: list[str]
    description_zh: str = Field(description="What belongs in the domain, in Chinese.")
    description_en: str = Field(description="What belongs in the domain, in English.")


class DomainWeight(StrictModel):
    domain: DomainCode = Field(description="A domain code from GET /v1/domains.")
    weight: Weight = Field(description="How central the domain is, in (0, 1].")


class InferredDomain(BaseModel):
    """A domain read from the profile's own words, not chosen by a person."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"domain": "pet_products", "confidence": 0.865, "inferred": True}]
        }
    )

    domain: str = Field(description="A domain code from GET /v1/domains.")
    confidence: float = Field(
        description="How sure the reading is, in (0, 1]; scoring weighs the domain by it."
    )
    inferred: Literal[True] = True


_INFERRED = (
    "Domains read from the profile's own words (names, scope or needs and business scope) "
    "against the taxonomy's names, synonyms and descriptions, in either script. Present only "
    "while `domains` is empty: domains a person sets replace them. Read again whenever the "
    "words change; scoring then uses them, each weighted by its confidence."
)


def _unique_domains(value: list[DomainWeight] | None) -> list[DomainWeight] | None:
    if value is not None:
        codes = [d.domain for d in value]
        if len(codes) != len(set(codes)):
            raise ValueError("each domain may be listed once")
    return value


class Contact(StrictModel):
    name: ShortText | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = (
        None
    )
    phone: Annotated[str, Field(max_length=40, pattern=r"^\+?[0-9 ()\-]{5,40}$")] | None = None


class TrackRecord(StrictModel):
    national: Count = Field(0, description="National standards led.")
    industry: Count = Field(0, description="Industry standards led.")
    zhejiang_made: Count = Field(0, description='"Zhejiang Made" (浙江制造) standards led.')


class CommitteeIn(StrictModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [COMMITTEE_EXAMPLE]})

    designation: Annotated[Name, Field(max_length=100)]
    level: Level
    name_zh: Name
    name_en: Name
    scope: LongText = ""
    secretariat: ShortText | None = None
    contact: Contact | None = None
    domains: Annotated[list[DomainWeight], Field(max_length=30)] = []

    _check_domains = field_validator("domains")(_unique_domains)


class CommitteePatch(PatchModel):
    designation: Annotated[Name, Field(max_length=100)] | Absent = None
    level: Level | Absent = None
    name_zh: Name | Absent = None
    name_en: Name | Absent = None
    scope: LongText | Absent = None
    secretariat: ShortText | None = None
    contact: Contact | None = None
    domains: Annotated[list[DomainWeight], Field(max_length=30)] | Absent = None

    _check_domains = field_validator("domains")(_unique_domains)


class CommitteeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e",
                    **COMMITTEE_EXAMPLE,
                    "inferred_domains": [],
                    "version": 1,
                    "created_at": "2025-09-01T02:00:00Z",
                    "updated_at": "2025-09-01T02:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    designation: str
    level: str
    name_zh: str
    name_en: str
    scope: str
    secretariat: str | None
    contact: Contact | None = Field(
        description="email and phone are shown only to admins and to the committee's own key."
    )
    domains: list[DomainWeight] = Field(description="The domains a person chose.")
    inferred_domains: list[InferredDomain] = Field(description=_INFERRED)
    version: int
    created_at: datetime
    updated_at: datetime


def _credit_code(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not is_valid_credit_code(code):
        raise ValueError(
            "is not a valid unified social credit code (18 characters, GB 32100-2015 check)"
        )
    return code


class OrganizationIn(StrictModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [ORGANIZATION_EXAMPLE]}
    )

    kind: Kind
    name_zh: Name
    name_en: Name | None = None
    credit_code: Annotated[str, Field(max_length=40)] | None = None
    region: ShortText | None = None
    domains: Annotated[list[DomainWeight], Field(max_length=30)] = []
    needs: LongText = ""
    business_scope: LongText = Field("", description="经营范围, as registered.")
    track_record: TrackRecord = TrackRecord()

    _check_domains = field_validator("domains")(_unique_domains)
    _check_code = field_validator("credit_code")(_credit_code)


class OrganizationPatch(PatchModel):
    kind: Kind | Absent = None
    name_zh: Name | Absent = None
    name_en: Name | None = None
    credit_code: Annotated[str, Field(max_length=40)] | None = None
    region: ShortText | None = None
    domains: Annotated[list[DomainWeight], Field(max_length=30)] | Absent = None
    needs: LongText | Absent = None
    business_scope: LongText | Absent = None
    track_record: TrackRecord | Absent = None

    _check_domains = field_validator("domains")(_unique_domains)
    _check_code = field_validator("credit_code")(_credit_code)


# Apart from CommitteeOut: the two answers share only their envelope (id, domains, version).
class OrganizationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
                    **ORGANIZATION_EXAMPLE,
                    "inferred_domains": [],
                    "version": 1,
                    "created_at": "2025-09-01T02:00:00Z",
                    "updated_at": "2025-09-01T02:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    kind: str
    name_zh: str
    name_en: str | None
    credit_code: str | None
    region: str | None
    domains: list[DomainWeight] = Field(description="The domains a person chose.")
    inferred_domains: list[InferredDomain] = Field(description=_INFERRED)
    needs: str
    business_scope: str = Field(description="经营范围, as registered.")
    track_record: TrackRecord
    version: int
    created_at: datetime
    updated_at: datetime


class RowError(BaseModel):
    row: int = Field(description="The row number as the spreadsheet shows it (header is row 1).")
    field: str
    message: str


class ImportResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"created": 2, "updated": 1, "unchanged": 19}]}
    )

    created: int
    updated: int = Field(description="Records that were there and changed.")
    unchanged: int = Field(description="Records that were there already as the file gives them.")
