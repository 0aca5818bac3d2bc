"""Checks a REST request against Twilio's own OpenAPI description (../shared/twilio-oai)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

SPEC = Path(__file__).resolve().parents[2] / "shared" / "twilio-oai" / "twilio_api_v2010.json"


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    return routes


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


# Rules the description states in prose rather than in the schema.
_ONE_OF = {
    ("POST", "/2010-04-01/Accounts/{AccountSid}/Calls.json"): (("Url", "Twiml", "ApplicationSid"),),
    ("POST", "/2010-04-01/Accounts/{AccountSid}/Messages.json"): (
        ("From", "MessagingServiceSid"),
        ("Body", "MediaUrl", "ContentSid"),
    ),
}


def problems(method: str, url: str, form: dict[str, Any]) -> list[str]:
    """Everything Twilio's description says is wrong with this request (empty: fine)."""
    parsed = urlparse(url)
    if parsed.scheme != "https" or parsed.netloc != "api.twilio.com":
        return [f"not Twilio's API host: {url}"]
    template = next((t for rx, t in _routes() if rx.match(parsed.path)), None)
    if template is None:
        return [f"no such path in Twilio's API: {parsed.path}"]
    operation = spec()["paths"][template].get(method.lower())
    if operation is None:
        return [f"{method} not allowed on {template}"]
    in_query = {
        p["name"] for p in map(_resolve, operation.get("parameters", [])) if p["in"] == "query"
    }
    unknown = [name for name in parse_qs(parsed.query) if name not in in_query]
    if unknown:
        return [f"{method} {template}: unknown query parameter {name}" for name in unknown]
    body = operation.get("requestBody")
    if body is None:
        return [f"{method} {template} takes no form, got {sorted(form)}"] if form else []
    schema = _resolve(body["content"]["application/x-www-form-urlencoded"]["schema"])
    found = []
    for name in schema.get("required", []):
        if name not in form:
            found.append(f"{template}: required field {name} missing")
    for group in _ONE_OF.get((method.upper(), template), ()):
        if not any(name in form for name in group):
            found.append(f"{template}: one of {', '.join(group)} is required")
    properties = schema.get("properties", {})
    for name, value in form.items():
        if name not in properties:
            found.append(f"{template}: unknown field {name}")
            continue
        found.extend(_check_value(template, name, _resolve(properties[name]), value))
    return found


def _check_value(template: str, name: str, prop: dict[str, Any], value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if prop.get("type") == "array":
        prop = _resolve(prop.get("items", {}))
    elif isinstance(value, list) and len(value) > 1:
        return [f"{template}: {name} takes one value, got {value}"]
    found = []
    for v in values:
        text = str(v)
        if "enum" in prop and text not in prop["enum"]:
            found.append(f"{template}: {name}={text!r} not one of {prop['enum']}")
        if prop.get("type") == "integer" and not re.fullmatch(r"-?\d+", text):
            found.append(f"{template}: {name}={text!r} is not an integer")
        if prop.get("type") == "boolean" and text.lower() not in ("true", "false"):
            found.append(f"{template}: {name}={text!r} is not a boolean")
        if prop.get("format") == "uri" and not text.startswith(("http://", "https://")):
            found.append(f"{template}: {name}={text!r} is not an absolute URL")
    return found
