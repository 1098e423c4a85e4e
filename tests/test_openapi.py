"""openapi.yaml is the committed contract: it must equal what the app generates."""

from pathlib import Path

import yaml

from service.app import create_app, openapi_yaml

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
                for status in ("401", "403", "429"):
                    content = operation["responses"][status]["content"]
                    assert "application/problem+json" in content, f"{method} {path} {status}"
    assert len(operation_ids) == len(set(operation_ids))


def test_every_schema_with_examples_in_components() -> None:
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    for name in ("CommitteeIn", "CommitteeOut", "OrganizationIn", "OrganizationOut", "Problem"):
        assert schemas[name].get("examples"), f"{name} has no example"
