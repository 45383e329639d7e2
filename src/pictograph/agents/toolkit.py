"""``Toolkit``: runs registry tools for an agent, behind the guardrails the Agents page describes.

Every dispatch validates the arguments with the tool's input model, then applies the role gate
(a tool needing more than the key's role is refused before any request, when the role is known —
the server re-checks every request regardless), the credit gate (a paid tool is refused while the
balance is below its cost) and the response cap (results over ``max_response_tokens`` are cut
down, with a ``_truncated`` marker, so one listing cannot flood the agent's context).

Refusals are the SDK's own exceptions — ValidationError, ForbiddenError, PaymentRequiredError — as
the docs promise; :meth:`Toolkit.dispatch_text` turns any of them into an error result a model can
read, for the framework adapters and MCP servers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError

from pictograph.agents.registry import REGISTRY, ROLE_RANK, Role, ToolSpec, get_tool, tools_payload
from pictograph.exceptions import (
    ForbiddenError,
    NotFoundError,
    PaymentRequiredError,
    PictographError,
    ValidationError,
)

if TYPE_CHECKING:
    from pictograph.client import Client

DEFAULT_MAX_RESPONSE_TOKENS = 25_000
CHARS_PER_TOKEN = 4
"""Token estimate: coarse, but the cap is a soft budget, not a tokenizer."""


class Toolkit:
    """A :class:`~pictograph.Client` plus the tool registry, for agents.

    ``role`` is the API key's role: with it, tools above that role are refused before any
    request. When it is not given, the first tool that needs more than ``viewer`` asks the server
    once (``GET /api/v1/api-keys/me``); ``discover_role=False``, or a server too old to answer,
    leaves the role unknown and the server's 403 is what the agent gets.
    """

    def __init__(
        self,
        client: Client,
        *,
        role: Role | None = None,
        discover_role: bool = True,
        max_response_tokens: int = DEFAULT_MAX_RESPONSE_TOKENS,
    ) -> None:
        if role is not None and role not in ROLE_RANK:
            raise ValueError(f"role must be one of {', '.join(ROLE_RANK)}, got {role!r}")
        if max_response_tokens <= 0:
            raise ValueError(f"max_response_tokens must be positive, got {max_response_tokens}")
        self.client = client
        self.role = role
        self._discover_role = role is None and discover_role
        self.max_response_tokens = max_response_tokens

    # ───────────── dispatch ─────────────

    def dispatch(self, name: str, args: Mapping[str, Any] | None = None) -> Any:
        """Run tool ``name`` with ``args`` and return its JSON-serialisable result.

        Raises ValidationError (unknown tool, or ``args`` its input model rejects; ``errors``
        lists the fields), ForbiddenError (the role gate, or the server's 403),
        PaymentRequiredError (the credit gate, or the server's 402), and whatever else the SDK
        call raises.
        """
        spec = _lookup(name)
        try:
            validated = spec.input_model.model_validate(dict(args or {}))
        except PydanticValidationError as error:
            raise ValidationError.from_pydantic(error, [], f"arguments for {name}") from error
        self._check_role(spec)
        self._check_credits(spec)
        return cap_response(spec.run(self.client, validated), name, self.max_response_tokens)

    def dispatch_text(self, name: str, args: Mapping[str, Any] | str | None) -> tuple[str, bool]:
        """``(text, is_error)`` for a model: the result as JSON, or the refusal as JSON.

        ``args`` may be the raw JSON string a model produced. Errors a model can act on — the
        SDK's, and local files that are missing or unwritable — become ``is_error`` results;
        anything else is a bug and propagates.
        """
        try:
            if isinstance(args, str):
                args = _parse_arguments(args)
            return json.dumps(self.dispatch(name, args), default=str), False
        except (PictographError, OSError) as error:
            return json.dumps(tool_error(error), default=str), True

    def _check_role(self, spec: ToolSpec[Any]) -> None:
        if ROLE_RANK[spec.required_role] == 0:  # every key may: no need to know which one
            return
        role = self._known_role()
        if role is None or ROLE_RANK[role] >= ROLE_RANK[spec.required_role]:
            return
        raise ForbiddenError(
            f"{spec.name} requires the {spec.required_role} role or higher; this API key is "
            f"{role}. Ask the user for a key with that role.",
            error_code="insufficient_role",
        )

    def _known_role(self) -> Role | None:
        """The key's role, asked of the server at most once; None when it cannot say."""
        if self._discover_role:
            self._discover_role = False
            try:
                role = self.client.api_keys.me().role
            except NotFoundError:  # a server without /api-keys/me
                return None
            if role in ROLE_RANK:
                self.role = role  # type: ignore[assignment]
        return self.role

    def _check_credits(self, spec: ToolSpec[Any]) -> None:
        if spec.credit_cost <= 0:
            return
        remaining = self.client.credits.balance().credits_remaining
        if remaining >= spec.credit_cost:
            return
        raise PaymentRequiredError(
            f"{spec.name} costs about {spec.credit_cost} credits and the organization has "
            f"{remaining}. Tell the user; do not retry until credits are added.",
            error_code="insufficient_credits",
            required=spec.credit_cost,
            remaining=remaining,
        )

    # ───────────── tool descriptions ─────────────

    def as_json_schema(self) -> dict[str, Any]:
        """What ``/api/v1/developer/tools.json`` serves: tools, version, count, generated_at."""
        return tools_payload()

    def as_anthropic_tools(self) -> list[dict[str, Any]]:
        """Tools for ``anthropic.messages.create(tools=...)``."""
        return [
            {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}
            for spec in REGISTRY
        ]

    def as_openai_tools(self) -> list[dict[str, Any]]:
        """Function tools for ``openai.responses.create(tools=...)``.

        Not strict: strict mode demands every field be required, and the tools' optional
        arguments with defaults are what keeps calls short.
        """
        return [
            {
                "type": "function",
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.input_schema,
                "strict": False,
            }
            for spec in REGISTRY
        ]


def create_toolkit(
    client: Client | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    role: Role | None = None,
    discover_role: bool = True,
    max_response_tokens: int = DEFAULT_MAX_RESPONSE_TOKENS,
) -> Toolkit:
    """A Toolkit over ``client``, or over a new Client built from ``api_key`` / ``base_url``
    (resolved like ``Client()``: arguments, then ``PICTOGRAPH_API_KEY`` / the config file).
    Without ``role``, the key's role is discovered from the server when first needed."""
    if client is not None and (api_key is not None or base_url is not None):
        raise ValueError("Pass either client or api_key / base_url, not both")
    if client is None:
        from pictograph.client import Client

        client = Client(api_key=api_key, base_url=base_url)
    return Toolkit(
        client, role=role, discover_role=discover_role, max_response_tokens=max_response_tokens
    )


def tool_error(error: BaseException) -> dict[str, Any]:
    """An exception as ``{"error": {...}}``: its type and message plus the fields that say what
    to do next (the offending arguments, the credits needed, the job to re-poll)."""
    message = error.message if isinstance(error, PictographError) else str(error)
    details: dict[str, Any] = {"type": type(error).__name__, "message": message}
    for attribute in (
        "status_code",
        "error_code",
        "errors",
        "required",
        "remaining",
        "upgrade_url",
        "retry_after",
        "job_id",
    ):
        value = getattr(error, attribute, None)
        if value not in (None, []):
            details[attribute] = value
    return {"error": details}


def estimate_tokens(value: Any) -> int:
    return math.ceil(len(json.dumps(value, default=str)) / CHARS_PER_TOKEN)


def cap_response(result: Any, tool_name: str, max_tokens: int) -> Any:
    """``result`` when it fits ``max_tokens``; otherwise the longest list in it cut to what fits,
    or — when nothing fits — only a note, both marked ``_truncated`` with how to narrow the call."""
    tokens = estimate_tokens(result)
    if tokens <= max_tokens:
        return result
    advice = (
        f"{tool_name} returned ~{tokens} tokens, over the {max_tokens}-token response cap. "
        "Call it again with narrower filters (a lower limit, a dataset_name, fewer classes)."
    )
    if isinstance(result, dict):
        key = _longest_list(result)
        if key is not None:
            items = result[key]

            def cut(keep: int) -> dict[str, Any]:
                return {
                    **result,
                    key: items[:keep],
                    "_truncated": True,
                    "_message": f"{advice} Kept the first {keep} of {len(items)} {key}.",
                    "_omitted": len(items) - keep,
                }

            if estimate_tokens(cut(0)) <= max_tokens:
                low, high = 0, len(items) - 1  # the most items that fit lie in [low, high]
                while low < high:
                    middle = (low + high + 1) // 2
                    if estimate_tokens(cut(middle)) <= max_tokens:
                        low = middle
                    else:
                        high = middle - 1
                return cut(low)
    return {"_truncated": True, "_message": advice, "_estimated_tokens": tokens}


def _longest_list(result: dict[str, Any]) -> str | None:
    lists = [key for key, value in result.items() if isinstance(value, list) and value]
    return max(lists, key=lambda key: estimate_tokens(result[key]), default=None)


def _lookup(name: str) -> ToolSpec[Any]:
    try:
        return get_tool(name)
    except KeyError:
        raise ValidationError(
            f"No tool named {name!r}; the tools are: {', '.join(s.name for s in REGISTRY)}",
            error_code="unknown_tool",
            errors=[{"loc": ["name"], "msg": "unknown tool", "type": "value_error"}],
        ) from None


def _parse_arguments(text: str) -> Mapping[str, Any]:
    try:
        parsed = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"Tool arguments are not valid JSON: {error}",
            errors=[{"loc": [], "msg": "invalid JSON", "type": "json_invalid"}],
        ) from error
    if not isinstance(parsed, dict):
        raise ValidationError(
            "Tool arguments must be a JSON object",
            errors=[{"loc": [], "msg": "expected an object", "type": "dict_type"}],
        )
    return parsed
