"""Schemathesis hooks for scripts/conformance/run: the refusals (and acceptances) the spec itself allows.

Schemathesis judges requests by their JSON Schema alone. share/openapi.yaml also states rules in prose that a schema
cannot say (bytes of UTF-8 rather than characters, "not only whitespace", "exactly one emoji", an e-mail address)
and state rules (a `seq` past the last message, blocking yourself, a direct conversation is not a group). A failure
of `positive_data_acceptance` ("a schema-valid request was refused") or `negative_data_rejection` ("a schema-invalid
request was accepted") is dropped here only when the request, checked here on what was actually sent, breaks (or
satisfies) such a documented rule. Every other failure stands: 5xx, an undocumented status, a response that does
not match its schema, a refusal the spec does not explain (a NUL character in a password, for instance, is not a
documented rule: that refusal is reported).

Keep the rules below in step with the descriptions in share/openapi.yaml; each quotes the sentence it relies on.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import schemathesis

# `limits.max_message_bytes`, which run leaves at its default.
MAX_MESSAGE_BYTES = 4096


def _operation_id(case) -> str:
    raw = getattr(case.operation.definition, "raw", None) or {}
    return raw.get("operationId") or case.operation.label


def _error(response) -> tuple[str | None, str]:
    """The `{"error":{"code","message"}}` of a response, or (None, "")."""
    try:
        body = response.json()
    except Exception:
        return None, ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, ""
    return error.get("code"), str(error.get("message") or "")


def _body(case) -> dict:
    return case.body if isinstance(case.body, dict) else {}


# --- Documented state rules: a schema-valid request refused because of the data, recognized by code and message ---

DIRECT_IS_NOT_A_GROUP = (400, "invalid_request", r"a direct conversation always has exactly its two members")

STATE_RULES: dict[str, list[tuple[int, str, str]]] = {
    # "Blocking yourself gets 400."
    "blockUser": [(400, "invalid_request", r"you cannot block yourself")],
    # "Open (or create on first use) the direct conversation with another user"
    "openDirectConversation": [(400, "invalid_request", r"a direct conversation needs another user")],
    # Group operations on a direct conversation: "400 for a direct conversation" (addMembers, removeMember); renaming
    # and roles are "a group's" too.
    "renameConversation": [DIRECT_IS_NOT_A_GROUP],
    "addMembers": [DIRECT_IS_NOT_A_GROUP],
    "removeMember": [DIRECT_IS_NOT_A_GROUP],
    # "The owner cannot change their own role (400)."
    "changeMemberRole": [DIRECT_IS_NOT_A_GROUP, (400, "invalid_request", r"the owner hands ownership to another member")],
    # reply_to: "The `seq` of an earlier message of this conversation."
    "sendMessage": [(400, "invalid_request", r"reply_to \d+ is not an earlier message of this conversation")],
    # "Positions never move back; a `seq` past the conversation's last message gets 400."
    "markRead": [(400, "invalid_request", r"seq \d+ is past the conversation's last message \(\d+\)")],
    "markDelivered": [(400, "invalid_request", r"seq \d+ is past the conversation's last message \(\d+\)")],
    # "A cursor outside the retained event log (older than retention, or ahead of the server's log) gets 410."
    "sync": [(410, "reset_required", r"cursor \d+ is outside the retained event log.*")],
    # "A wrong or expired code gets 400 `invalid_code`" (a generated code is always wrong).
    "verifyOneTimeCode": [(400, "invalid_code", r".*")],
    # "Without an upgrade the answer is 426."
    "realtime": [(426, "upgrade_required", r".*")],
}


def _state_rule_applies(operation: str, response) -> bool:
    code, message = _error(response)
    return any(
        response.status_code == status and code == expected and re.fullmatch(pattern, message)
        for status, expected, pattern in STATE_RULES.get(operation, [])
    )


# --- Documented input rules the schema cannot express, checked on the request as sent -----------------------------
#
# Each returns why the request breaks a documented rule, or None when it keeps all of them.

# Swift's `.whitespaces`, which chatd trims: the space separators (Zs) and the tab.
def _trim(value: str) -> str:
    def blank(c: str) -> bool:
        return c == "\t" or unicodedata.category(c) == "Zs"

    start, end = 0, len(value)
    while start < end and blank(value[start]):
        start += 1
    while end > start and blank(value[end - 1]):
        end -= 1
    return value[start:end]


def _characters(value: str) -> int:
    """Roughly what Swift counts as characters: combining marks, joiners and variation selectors extend the one
    before them."""
    count = 0
    for c in value:
        if count and (unicodedata.category(c) in ("Mn", "Mc", "Me") or c in "\u200d\ufe0e\ufe0f"):
            continue
        count += 1
    return count


def _line(value, field: str, max_characters: int) -> str | None:
    """display_name: "1–64 characters after trimming surrounding whitespace, no control characters"; Title: the same
    with 128."""
    if not isinstance(value, str):
        return f"{field} is not a string"
    trimmed = _trim(value)
    if not trimmed:
        return f"{field} is empty after trimming whitespace"
    if _characters(trimmed) > max_characters:
        return f"{field} is longer than {max_characters} characters"
    if any(unicodedata.category(c) == "Cc" for c in trimmed):
        return f"{field} has a control character"
    return None


def _password(value) -> str | None:
    """Password: "8–72 bytes of UTF-8"."""
    if not isinstance(value, str):
        return "password is not a string"
    size = len(value.encode("utf-8", "surrogatepass"))
    return None if 8 <= size <= 72 else f"password is {size} bytes of UTF-8"


def _handle(value) -> str | None:
    """Handle: "3–32 ASCII letters, digits, `_` and `.`"."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.]{3,32}", value):
        return None
    return "handle is not 3–32 ASCII letters, digits, '_' and '.'"


def _text(value) -> str | None:
    """Message text: "Not empty or only whitespace; at most `limits.max_message_bytes` bytes of UTF-8"."""
    if not isinstance(value, str):
        return "text is not a string"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        return f"text is over {MAX_MESSAGE_BYTES} bytes"
    if not value.strip():
        return "text is only whitespace"
    return None


def _client_id(value) -> str | None:
    """client_id: "1–64 printable ASCII characters without spaces"."""
    if isinstance(value, str) and re.fullmatch(r"[!-~]{1,64}", value):
        return None
    return "client_id is not 1–64 printable ASCII characters"


def _destination(channel, value) -> str | None:
    """OTPDestination: "An e-mail address (channel `email`) or an E.164 phone number like `+14155550123` (channel
    `sms`)"."""
    if not isinstance(value, str):
        return "destination is not a string"
    if channel == "email":
        address = value.strip()
        local, at, domain = address.partition("@")
        if at and local and "@" not in domain and "." in domain and len(address.encode()) <= 254 and not any(
            c.isspace() or unicodedata.category(c) == "Cc" for c in address
        ):
            return None
        return "destination is not an e-mail address"
    if channel == "sms":
        digits = re.sub(r"[ \-().]", "", value)
        if re.fullmatch(r"\+[0-9]{7,15}", digits):
            return None
        return "destination is not an E.164 phone number"
    return "channel is neither sms nor email"


def _emoji(raw) -> str | None:
    """Emoji path parameter: "Exactly one emoji"; rough: symbols (So/Sk) with their modifiers, joined by ZWJ."""
    if not isinstance(raw, str):
        return "emoji is not a string"
    value = unquote(raw)
    if not value:
        return "emoji is empty"
    bases = 0
    previous_joiner = True
    for c in value:
        category = unicodedata.category(c)
        if c == "\u200d":
            previous_joiner = True
            continue
        if c in "\ufe0e\ufe0f" or category in ("Mn", "Me") or 0x1F3FB <= ord(c) <= 0x1F3FF or 0xE0020 <= ord(c) <= 0xE007F:
            continue
        if category not in ("So", "Sk"):
            return f"emoji contains {unicodedata.name(c, hex(ord(c)))}"
        if 0x1F1E6 <= ord(c) <= 0x1F1FF:  # regional indicators come in pairs, one flag
            bases += 0.5
        elif not previous_joiner:
            bases += 1
        elif bases == 0:
            bases = 1
        previous_joiner = False
    return None if bases <= 1 else "more than one emoji"


def _words(q) -> str | None:
    """q: "The search words; at most 256 bytes of UTF-8"."""
    if not isinstance(q, str) or not q:
        return "q is empty"
    if len(q.encode("utf-8", "surrogatepass")) > 256:
        return "q is over 256 bytes of UTF-8"
    if not any(unicodedata.category(c)[0] in "LN" for c in q):
        return "q has no word (no letter or digit)"
    return None


def _first(*reasons: str | None) -> str | None:
    return next((reason for reason in reasons if reason), None)


def _input_rules(operation: str, case) -> str | None:
    """Why the request breaks a documented input rule, or None; only the operations with rules beyond their schema."""
    body = _body(case)
    path = case.path_parameters or {}
    query = case.query or {}
    if operation == "register":
        return _first(
            _handle(body.get("handle")),
            _password(body.get("password")),
            _line(body["display_name"], "display_name", 64) if "display_name" in body else None,
        )
    if operation == "serverCreateUser":
        return _first(
            _handle(body.get("handle")),
            _password(body["password"]) if "password" in body else None,
            _line(body["display_name"], "display_name", 64) if "display_name" in body else None,
        )
    if operation == "updateMe":
        return _line(body.get("display_name"), "display_name", 64)
    if operation in ("createGroup", "renameConversation"):
        return _line(body.get("title"), "title", 128)
    if operation == "sendMessage":
        return _first(_client_id(body.get("client_id")), _text(body.get("text")))
    if operation == "editMessage":
        return _text(body.get("text"))
    if operation in ("addReaction", "removeReaction"):
        return _emoji(path.get("emoji"))
    if operation == "requestOneTimeCode":
        return _destination(body.get("channel"), body.get("destination"))
    if operation == "verifyOneTimeCode":
        return _first(
            _destination(body.get("channel"), body.get("destination")),
            None if isinstance(body.get("code"), str) and re.fullmatch(r"[0-9]{6}", body["code"]) else "code is not 6 digits",
        )
    if operation == "searchMessages":
        return _words(query.get("q"))
    return None


# Operations whose body or parameters have a documented rule the schema cannot express: for these, a schema-invalid
# request that keeps every documented rule may be accepted (e.g. a 7-character password of 14 bytes: the schema says
# `minLength: 8` characters, the description "8–72 bytes of UTF-8").
PROSE_VALIDATED = {
    "register", "serverCreateUser", "updateMe", "createGroup", "renameConversation", "sendMessage", "editMessage",
}


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep a failure unless the spec explains it (see the module's docstring)."""
    operation = _operation_id(case)
    kind = type(failure).__name__
    if kind == "RejectedPositiveData":
        if _state_rule_applies(operation, response):
            return False
        code, _ = _error(response)
        broken = _input_rules(operation, case)
        if broken and (
            (response.status_code == 400 and code == "invalid_request")
            or (response.status_code == 413 and code == "payload_too_large" and "bytes" in broken)
        ):
            return False
        return True
    if kind == "AcceptedNegativeData":
        # Only when the whole body keeps the documented rules (the schema is stricter than the prose), and the
        # negative part was in the body (a path or query value outside its schema has no such excuse).
        if operation in PROSE_VALIDATED and 200 <= response.status_code < 300 and case.body is not None:
            negated = {str(location) for location in _negated_locations(case)}
            if negated <= {"body", "ParameterLocation.BODY"} and _input_rules(operation, case) is None:
                return _body_types_wrong(operation, case)
        return True
    return True


def _negated_locations(case):
    """The locations schemathesis made invalid in this case (best effort: all of them when it cannot say)."""
    meta = getattr(case, "meta", None)
    components = getattr(meta, "components", None) or {}
    locations = [
        getattr(location, "value", location)
        for location, component in components.items()
        if getattr(getattr(component, "mode", None), "is_negative", False)
    ]
    return locations or ["unknown"]


# The JSON types of the fields the prose rules do not look at; a wrong one is a real acceptance of invalid data.
BODY_TYPES = {
    "register": {},
    "serverCreateUser": {},
    "updateMe": {},
    "createGroup": {"member_ids": "integer array"},
    "renameConversation": {},
    "sendMessage": {"reply_to": "positive integer"},
    "editMessage": {},
}


def _body_types_wrong(operation: str, case) -> bool:
    """True (keep the failure) when a field the prose rules ignore has a wrong type or value."""
    body = _body(case)
    if not isinstance(case.body, dict):
        return True
    for name, kind in BODY_TYPES.get(operation, {}).items():
        if name not in body:
            continue
        value = body[name]
        if kind == "integer array":
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                return True
        elif kind == "positive integer":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                return True
    return False
