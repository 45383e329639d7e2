"""The tool registry against the Agents and Agent tool registry pages: the 28 tools by category,
self-contained schemas that forbid unknown arguments, the documented metadata, the tools.json
payload, and the response cap's arithmetic. No server needed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from unittest.mock import MagicMock

import pytest

from pictograph import __version__
from pictograph.agents import REGISTRY, Toolkit, get_tool
from pictograph.agents.toolkit import cap_response, estimate_tokens, tool_error
from pictograph.exceptions import ForbiddenError, PaymentRequiredError, ValidationError

DOCUMENTED = {
    "Workflows": [
        "upload_dataset_from_folder",
        "auto_annotate_dataset",
        "train_pipeline",
        "full_pipeline",
    ],
    "Datasets": ["list_datasets", "get_dataset", "create_dataset", "delete_dataset"],
    "Images": ["upload_image", "delete_image"],
    "Annotations": ["get_annotations", "save_annotations"],
    "Auto-annotate": ["auto_annotate_point", "auto_annotate_box", "auto_annotate_text"],
    "Search": ["search_by_tag", "search_by_similarity"],
    "Exports": ["create_export", "list_exports", "download_export"],
    "Training": ["get_training_status", "cancel_training"],
    "Models": ["list_models", "download_model"],
    "Credits": ["get_credit_balance", "estimate_credit_cost"],
    "Connectors": ["validate_connector", "import_from_connector"],
}

# name: (required_role, credit_cost, idempotent) — the published registry's metadata.
METADATA = {
    "upload_dataset_from_folder": ("member", 0, False),
    "auto_annotate_dataset": ("member", 10, False),
    "train_pipeline": ("member", 100, False),
    "full_pipeline": ("member", 110, False),
    "list_datasets": ("viewer", 0, True),
    "get_dataset": ("viewer", 0, True),
    "create_dataset": ("member", 0, False),
    "delete_dataset": ("admin", 0, True),
    "upload_image": ("member", 0, False),
    "delete_image": ("member", 0, True),
    "get_annotations": ("viewer", 0, True),
    "save_annotations": ("member", 0, True),
    "auto_annotate_point": ("member", 1, False),
    "auto_annotate_box": ("member", 1, False),
    "auto_annotate_text": ("member", 1, False),
    "search_by_tag": ("viewer", 0, True),
    "search_by_similarity": ("viewer", 0, True),
    "create_export": ("member", 0, False),
    "list_exports": ("viewer", 0, True),
    "download_export": ("viewer", 0, True),
    "get_training_status": ("viewer", 0, True),
    "cancel_training": ("member", 0, True),
    "list_models": ("viewer", 0, True),
    "download_model": ("viewer", 0, True),
    "get_credit_balance": ("viewer", 0, True),
    "estimate_credit_cost": ("viewer", 0, True),
    "validate_connector": ("member", 0, True),
    "import_from_connector": ("member", 0, False),
}


def object_schemas(node: Any) -> list[dict[str, Any]]:
    """Every sub-schema that declares properties (the ones that must forbid extras)."""
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append(node)
        for key, value in node.items():
            if key == "properties":
                for schema in value.values():
                    found.extend(object_schemas(schema))
            elif key != "default":
                found.extend(object_schemas(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(object_schemas(item))
    return found


def test_28_tools_in_the_documented_categories_and_order() -> None:
    assert len(REGISTRY) == 28
    by_category: dict[str, list[str]] = {}
    for spec in REGISTRY:
        by_category.setdefault(spec.category, []).append(spec.name)
    assert by_category == DOCUMENTED
    assert [spec.name for spec in REGISTRY] == [n for names in DOCUMENTED.values() for n in names]


def test_roles_costs_and_idempotency_are_as_documented() -> None:
    assert {s.name: (s.required_role, s.credit_cost, s.idempotent) for s in REGISTRY} == METADATA
    paid = {s.name for s in REGISTRY if s.credit_cost > 0}
    assert {"auto_annotate_dataset", "train_pipeline", "full_pipeline"} <= paid
    destructive = {s.name for s in REGISTRY if s.destructive}
    assert destructive == {"delete_dataset", "delete_image", "cancel_training"}


def test_descriptions_lead_with_use_when() -> None:
    for spec in REGISTRY:
        assert spec.description.startswith("Use when "), spec.name
        assert len(spec.description) < 600, spec.name


def test_input_schemas_are_self_contained_and_forbid_unknown_arguments() -> None:
    for spec in REGISTRY:
        schema = spec.input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False, spec.name
        text = json.dumps(schema)
        assert "$ref" not in text and "$defs" not in text, spec.name
        assert "title" not in schema, spec.name
        for sub in object_schemas(schema):
            assert sub.get("additionalProperties") is False, (spec.name, sub)
        for name, field in schema["properties"].items():
            assert field.get("description"), (spec.name, name)
        assert spec.input_model.model_config.get("extra") == "forbid"


def test_tools_json_payload_shape() -> None:
    payload = Toolkit(MagicMock()).as_json_schema()
    assert set(payload) == {"tools", "version", "count", "generated_at"}
    assert payload["count"] == 28 == len(payload["tools"])
    assert payload["version"] == __version__
    assert datetime.strptime(payload["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    first = payload["tools"][0]
    assert set(first) == {
        "name",
        "description",
        "input_schema",
        "required_role",
        "credit_cost",
        "idempotent",
    }
    assert first["name"] == "upload_dataset_from_folder"
    assert first["input_schema"]["required"] == ["dataset_name", "folder"]
    assert json.loads(json.dumps(payload)) == payload


def test_arguments_are_validated_before_anything_is_called() -> None:
    client = MagicMock()
    toolkit = Toolkit(client)
    with pytest.raises(ValidationError) as bad:
        toolkit.dispatch("list_datasets", {"limit": 0, "colour": "red"})
    assert [e["loc"] for e in bad.value.errors] == [["limit"], ["colour"]]
    assert bad.value.errors[1]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError) as unknown:
        toolkit.dispatch("list_everything", {})
    assert unknown.value.error_code == "unknown_tool"
    with pytest.raises(ValidationError):
        toolkit.dispatch("get_dataset", {})  # name is required
    assert client.mock_calls == []


def test_role_gate_refuses_before_any_request() -> None:
    client = MagicMock()
    viewer = Toolkit(client, role="viewer")
    with pytest.raises(ForbiddenError) as refused:
        viewer.dispatch("create_dataset", {"name": "x"})
    assert refused.value.error_code == "insufficient_role" and "member" in str(refused.value)
    with pytest.raises(ForbiddenError):
        Toolkit(client, role="member").dispatch("delete_dataset", {"name": "x"})
    assert client.mock_calls == []
    Toolkit(client, role="admin").dispatch("delete_dataset", {"name": "x"})
    client.projects.delete.assert_called_once_with("x")
    with pytest.raises(ValueError):
        Toolkit(client, role="superuser")  # type: ignore[arg-type]


def test_credit_gate_compares_the_balance_with_the_cost() -> None:
    client = MagicMock()
    client.credits.balance.return_value.credits_remaining = 99
    with pytest.raises(PaymentRequiredError) as short:
        Toolkit(client).dispatch("train_pipeline", {"dataset_name": "d", "pipeline": "yolox"})
    assert (short.value.required, short.value.remaining) == (100, 99)
    assert short.value.error_code == "insufficient_credits"
    client.exports.create.assert_not_called()
    Toolkit(client).dispatch("list_datasets", {})  # free tools never look at the balance
    assert client.credits.balance.call_count == 1


def test_cap_keeps_what_fits_of_the_longest_list() -> None:
    rows = [{"id": f"{i:04d}", "name": f"dataset number {i}"} for i in range(200)]
    result = {"datasets": rows, "count": 200}
    assert cap_response(result, "list_datasets", 10_000) is result
    capped = cap_response(result, "list_datasets", 300)
    assert capped["_truncated"] is True and estimate_tokens(capped) <= 300
    kept = len(capped["datasets"])
    assert 0 < kept < 200 and capped["datasets"] == rows[:kept]
    assert capped["_omitted"] == 200 - kept and capped["count"] == 200
    assert "narrower filters" in capped["_message"] and f"first {kept} of 200" in capped["_message"]
    one_more = {**capped, "datasets": rows[: kept + 1]}
    assert estimate_tokens(one_more) > 300


def test_cap_without_a_list_leaves_only_the_note() -> None:
    capped = cap_response({"blob": "x" * 4000}, "get_dataset", 100)
    assert capped["_truncated"] is True and "blob" not in capped
    assert capped["_estimated_tokens"] >= 1000
    assert cap_response(["x" * 400] * 10, "list_models", 50)["_truncated"] is True


def test_tool_error_carries_what_to_do_next() -> None:
    error = PaymentRequiredError(
        "short", status_code=402, error_code="insufficient_credits", required=3, remaining=1
    )
    assert tool_error(error) == {
        "error": {
            "type": "PaymentRequiredError",
            "message": "short",
            "status_code": 402,
            "error_code": "insufficient_credits",
            "required": 3,
            "remaining": 1,
        }
    }
    assert tool_error(FileNotFoundError("nope"))["error"] == {
        "type": "FileNotFoundError",
        "message": "nope",
    }


def test_get_tool() -> None:
    assert get_tool("list_models").category == "Models"
    with pytest.raises(KeyError):
        get_tool("nope")


def test_toolkit_settings_are_checked() -> None:
    from pictograph.agents import create_toolkit

    with pytest.raises(ValueError):
        create_toolkit(MagicMock(), api_key="pk_live_x")
    with pytest.raises(ValueError):
        Toolkit(MagicMock(), max_response_tokens=0)
    assert Toolkit(MagicMock()).max_response_tokens == 25_000
