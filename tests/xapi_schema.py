"""The JSON schema of an xAPI 1.0.3 statement as TMA sends it, written from the spec's
requirements (xAPI 1.0.3, Part Two, "Statement Data Structure"): the properties a
statement may have and no others; `actor` an Agent identified by exactly one inverse
functional identifier (here an `account`: `homePage` an IRL and `name`); `verb` an IRI
with a language map; `object` an Activity with an IRI; `result.score.scaled` in -1..1
and `raw` between `min` and `max`; times ISO 8601 with a zone; `version` 1.0.x; a UUID
`id`. No maintained Python xAPI library installs here (docs/events.md says which were
looked for), so the tests validate with `jsonschema` against this."""

from typing import Any

UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
IRI = r"^[a-z][a-z0-9+.-]*://[^\s]+$"
INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
LANGUAGE_MAP = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": "string"},
    "propertyNames": {"pattern": r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$"},
}
EXTENSIONS = {"type": "object", "propertyNames": {"pattern": IRI}}

AGENT = {
    "type": "object",
    "properties": {
        "objectType": {"const": "Agent"},
        "name": {"type": "string"},
        "mbox": {"type": "string", "pattern": "^mailto:"},
        "mbox_sha1sum": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
        "openid": {"type": "string", "pattern": IRI},
        "account": {
            "type": "object",
            "required": ["homePage", "name"],
            "properties": {
                "homePage": {"type": "string", "pattern": IRI},
                "name": {"type": "string", "minLength": 1},
            },
            "additionalProperties": False,
        },
    },
    "oneOf": [{"required": [ifi]} for ifi in ("mbox", "mbox_sha1sum", "openid", "account")],
    "additionalProperties": False,
}

STATEMENT: dict[str, Any] = {
    "type": "object",
    "required": ["actor", "verb", "object"],
    "properties": {
        "id": {"type": "string", "pattern": UUID},
        "actor": AGENT,
        "verb": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string", "pattern": IRI}, "display": LANGUAGE_MAP},
            "additionalProperties": False,
        },
        "object": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "objectType": {"const": "Activity"},
                "id": {"type": "string", "pattern": IRI},
                "definition": {
                    "type": "object",
                    "properties": {
                        "name": LANGUAGE_MAP,
                        "description": LANGUAGE_MAP,
                        "type": {"type": "string", "pattern": IRI},
                        "moreInfo": {"type": "string", "pattern": IRI},
                        "extensions": EXTENSIONS,
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
        "result": {
            "type": "object",
            "properties": {
                "score": {
                    "type": "object",
                    "properties": {
                        "scaled": {"type": "number", "minimum": -1, "maximum": 1},
                        "raw": {"type": "number"},
                        "min": {"type": "number"},
                        "max": {"type": "number"},
                    },
                    "additionalProperties": False,
                },
                "success": {"type": "boolean"},
                "completion": {"type": "boolean"},
                "response": {"type": "string"},
                "duration": {"type": "string", "pattern": "^P"},
                "extensions": EXTENSIONS,
            },
            "additionalProperties": False,
        },
        "context": {
            "type": "object",
            "properties": {
                "registration": {"type": "string", "pattern": UUID},
                "platform": {"type": "string"},
                "language": {"type": "string"},
                "extensions": EXTENSIONS,
            },
            "additionalProperties": False,
        },
        "timestamp": {"type": "string", "pattern": INSTANT},
        "stored": {"type": "string", "pattern": INSTANT},
        "version": {"type": "string", "pattern": r"^1\.0\.\d+$"},
    },
    "additionalProperties": False,
}


def score_in_range(statement: dict[str, Any]) -> bool:
    """What a schema cannot say: `raw` lies between `min` and `max`, and `scaled` is
    `raw` on that scale."""
    score = statement.get("result", {}).get("score")
    if score is None:
        return True
    low, high, raw = score["min"], score["max"], score["raw"]
    return bool(low <= raw <= high and abs(score["scaled"] - (raw - low) / (high - low)) < 1e-9)
