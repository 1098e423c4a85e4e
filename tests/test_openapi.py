"""openapi.yaml is the committed contract: it must equal what the app generates."""

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_python_client.strings import snake_case
from pydantic import BaseModel, ValidationError
from starlette.routing import compile_path

import service
from service.app import create_app
from service.openapi import openapi_yaml
from service.schemas import PatchModel, examples_of
from tests.support import Headers

CONTRACT = Path(__file__).resolve().parent.parent / "openapi.yaml"


def test_committed_contract_matches_the_app() -> None:
    generated = openapi_yaml(create_app())
    assert CONTRACT.read_text(encoding="utf-8") == generated, (
        "openapi.yaml is out of date: run `make openapi` and review the diff"
    )


def test_every_operation_has_id_summary_and_problem_responses() -> None:
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    operation_ids = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            assert operation.get("summary"), f"{method} {path} has no summary"
            if path.startswith("/v1/"):
                assert operation["security"] == [{"HTTPBearer": []}], f"{method} {path}"
                for status in ("401", "403", "429", "503"):
                    content = operation["responses"][status]["content"]
                    assert "application/problem+json" in content, f"{method} {path} {status}"
                # What the middleware answers before any route: documented where it applies.
                described = {s: r["description"] for s, r in operation["responses"].items()}
                assert "`nul_character`" in described["422"], f"{method} {path}"
                if method in ("post", "patch"):
                    assert "`payload_too_large`" in described["413"], f"{method} {path}"
                    assert "`unsupported_media_type`" in described["415"], f"{method} {path}"
                    json_body = not path.endswith(":import")
                    assert ("`invalid_json`" in described["422"]) == json_body, f"{method} {path}"
                if method == "post":
                    assert "`idempotency_in_progress`" in described["409"], f"{method} {path}"
                    assert "`idempotency_key_reused`" in described["422"], f"{method} {path}"
    assert len(operation_ids) == len(set(operation_ids))


def test_every_schema_with_examples_in_components() -> None:
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    for name in ("CommitteeIn", "CommitteeOut", "OrganizationIn", "OrganizationOut", "Problem"):
        assert schemas[name].get("examples"), f"{name} has no example"


def _schema_models() -> list[type[BaseModel]]:
    """Every model defined in the service's schemas modules."""
    found = []
    for module_info in pkgutil.walk_packages(service.__path__, "service."):
        if not module_info.name.endswith("schemas"):
            continue
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def _models_with_examples() -> list[type[BaseModel]]:
    """Every schema model whose config (own or inherited) has examples."""
    return [model for model in _schema_models() if examples_of(model)]


def test_a_patch_field_takes_null_exactly_where_the_contract_says() -> None:
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    patches = [m for m in _schema_models() if issubclass(m, PatchModel) and m is not PatchModel]
    assert {m.__name__ for m in patches} >= {"EventPatch", "MeetingPatch", "CommitteePatch"}
    for model in patches:
        properties = document["components"]["schemas"][model.__name__]["properties"]
        for name, field in properties.items():
            assert "default" not in field, f"{model.__name__}.{name}: left out is not a default"
            admits_null = {"type": "null"} in field.get("anyOf", [])
            try:
                model.model_validate({name: None})
                accepted = True
            except ValidationError as error:
                accepted = False
                assert f"{name} cannot be null" in str(error)
            assert accepted == admits_null, f"{model.__name__}.{name}"


def test_every_example_in_the_contract_is_valid_for_its_schema() -> None:
    # Partners copy the examples: one the API itself would refuse or never send misleads them.
    models = _models_with_examples()
    assert len(models) > 30
    for model in models:
        for example in examples_of(model):
            model.model_validate(example)


def test_openapi_python_client_generates_every_operation_without_a_warning(
    tmp_path: Path,
) -> None:
    """A partner's generated client has every operation, the `:import`s (multipart) included."""
    config = CONTRACT.parent / "docs" / "openapi-python-client.yaml"
    out = tmp_path / "client"
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(CONTRACT),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = generated.stdout + generated.stderr
    assert generated.returncode == 0, said
    assert "warning" not in said.lower() and "error" not in said.lower(), said
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    expected = {
        snake_case(operation["operationId"])
        for operations in document["paths"].values()
        for operation in operations.values()
    }
    modules = {p.stem for p in out.glob("api/*/*.py") if p.stem != "__init__"}
    assert modules == expected
    imports = {m for m in modules if m.startswith("import_")}
    assert imports == {"import_committees", "import_organizations", "import_participants"}
    for name in imports:
        (module,) = out.glob(f"api/*/{name}.py")
        assert "multipart" in module.read_text(encoding="utf-8").lower(), name


SET_HEADERS = ("etag", "location", "retry-after", "idempotent-replayed", "x-request-id")


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in document["paths"].items():
        if compile_path(template)[0].match(path) and method in operations:
            return dict(operations[method])
    raise AssertionError(f"{method} {path} is not in the contract")


async def test_response_headers_sent_are_the_ones_documented(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    committee = {
        "designation": "ISO/TC 997",
        "level": "international",
        "name_zh": "头部测试委员会",
        "name_en": "Header test committee",
    }
    replayed = {**admin, "Idempotency-Key": "header-test-1"}
    created = await client.post("/v1/committees", json=committee, headers=replayed)
    url = created.headers["location"]
    answers = [
        created,
        await client.post("/v1/committees", json=committee, headers=replayed),
        await client.get(url, headers=admin),
        await client.patch(url, json={"scope": "测试"}, headers={**admin, "If-Match": '"1"'}),
        await client.get("/v1/committees?limit=1", headers=admin),
        await client.get(url),
        await client.get("/healthz"),
    ]
    assert answers[1].headers["idempotent-replayed"] == "true"
    for answer in answers:
        request = answer.request
        operation = _operation(document, request.method.lower(), request.url.path)
        documented = {
            name.lower()
            for name in operation["responses"][str(answer.status_code)].get("headers", {})
        }
        sent = {name for name in SET_HEADERS if name in answer.headers}
        assert "x-request-id" in sent
        assert sent <= documented, (request.method, request.url.path, answer.status_code)
        # What is documented for these answers is sent (a replay header only on replays).
        assert documented - {"idempotent-replayed"} <= sent, (request.url.path, documented)
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                names = set(response.get("headers", {}))
                assert "X-Request-ID" in names, (method, template, status)
                if status in ("429", "503"):
                    assert "Retry-After" in names, (method, template, status)
