"""Schemathesis hooks for scripts/conformance/run: the failures share/openapi.yaml itself explains, and a guard that
keeps the fixture usable.

Schemathesis judges a request by its JSON Schema alone. share/openapi.yaml also states rules a schema cannot say,
in prose: state rules ("Checks, in order: …": a `seq` past the last message, blocking yourself, a direct
conversation is not a group), integer literals only (`1.0` is a JSON Schema integer, chatd refuses it), and the
values between what a schema can promise and what chatd counts in bytes (passwords, search words) or recognizes
(emoji). A failure of `positive_data_acceptance` ("a schema-valid request was refused") or `negative_data_rejection`
("a schema-invalid request was accepted") is dropped here only when the request, checked here on what was sent,
breaks (or keeps) such a documented rule, and the response is the documented one. Every other failure stands: a
5xx, an undocumented status, a response that does not match its schema, a refusal or an acceptance the spec does not
explain.

Keep the rules below in step with share/openapi.yaml; each quotes the text it relies on. Which properties and
parameters they apply to is read from the spec itself (the components they refer to).
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import cache
from urllib.parse import unquote

import schemathesis
import yaml

SPEC = os.environ.get("CONFORMANCE_SPEC") or os.path.join(
    os.path.dirname(__file__), "..", "..", "share", "openapi.yaml")
# `limits.max_message_bytes`, which run leaves at its default.
MAX_MESSAGE_BYTES = 4096
# `media.max_image_bytes`, `media.max_video_bytes`, `media.max_file_bytes`, which run leaves at their defaults.
MAX_UPLOAD_BYTES = {"image": 25 << 20, "video": 200 << 20, "file": 100 << 20}
# The fixture run created: the caller alice, carol, the group alice owns.
ALICE_ID = os.environ.get("CONFORMANCE_ALICE_ID", "")
CAROL_ID = os.environ.get("CONFORMANCE_CAROL_ID", "")
GROUP_ID = os.environ.get("CONFORMANCE_GROUP_ID", "")
# Where each dropped failure is written, one "operation<TAB>reason" line, for run's summary.
EXCUSED_LOG = os.environ.get("CONFORMANCE_EXCUSED", "")
# The spec says (in its description) that no number anywhere in a request body may have a fraction or an exponent, in
# a property it names or not: a body holding one is refused with 400.
FRACTIONS_REFUSED_EVERYWHERE = True


# --- Documented state rules: a schema-valid request refused because of the data --------------------------------------
#
# Recognized by status, error code and message; the message patterns are chatd's own wording, so a reworded message
# makes the failure stand (and this table is updated), never the reverse.

DIRECT_IS_NOT_A_GROUP = (400, "invalid_request", r"a direct conversation .*")

STATE_RULES: dict[str, list[tuple[int, str, str]]] = {
    # "blocking yourself gets 400 `invalid_request`"
    "blockUser": [(400, "invalid_request", r"you cannot block yourself")],
    # "`user_id` is the caller (no conversation with yourself) 400 `invalid_request`"
    "openDirectConversation": [(400, "invalid_request", r"a direct conversation needs another user")],
    # "a direct conversation has no title / no member changes / no roles 400 `invalid_request`"
    "renameConversation": [DIRECT_IS_NOT_A_GROUP],
    "addMembers": [DIRECT_IS_NOT_A_GROUP],
    "removeMember": [DIRECT_IS_NOT_A_GROUP],
    # … and "the owner names themself (they hand ownership to another member instead) 400 `invalid_request`"
    "changeMemberRole": [
        DIRECT_IS_NOT_A_GROUP, (400, "invalid_request", r"the owner hands ownership to another member")],
    # "`reply_to` not the seq of an earlier message of this conversation … 400 `invalid_request`"
    "sendMessage": [(400, "invalid_request", r"reply_to \d+ is not an earlier message of this conversation")],
    # "a `seq` past the conversation's last message … 400 `invalid_request`"
    "markRead": [(400, "invalid_request", r"seq \d+ is past the conversation's last message.*")],
    "markDelivered": [(400, "invalid_request", r"seq \d+ is past the conversation's last message.*")],
    # "a cursor outside the retained event log … 410 `reset_required`"
    "sync": [(410, "reset_required", r"cursor \d+ is outside the retained event log.*")],
    # "400 `invalid_code` when no code is pending for the destination …, when the code is wrong, …"
    "verifyOneTimeCode": [(400, "invalid_code", r".*")],
    # "Without an upgrade the answer is 426."
    "realtime": [(426, "upgrade_required", r".*")],
    # "the caller's media and unfinished uploads together with `size` over `media.user_quota_bytes` … 413
    # `quota_exceeded`" (each upload a run creates holds its size until it is removed, a day after its URL expired)
    "startUpload": [(413, "quota_exceeded",
                     r"this upload of \d+ bytes would take your media to \d+ bytes; the quota is \d+")],
}


# --- Documented input rules the schema cannot state, checked on the value as sent ------------------------------------

def _is_control(c: str) -> bool:
    # "Control characters" are the code points of general category Cc: U+0000–U+001F and U+007F–U+009F.
    return unicodedata.category(c) == "Cc"


def password_rule(value) -> str | None:
    """Password: "8 to 72 bytes of UTF-8 …, without control characters (U+0000 included); anything else gets 400"."""
    if not isinstance(value, str):
        return "not a string"
    size = len(value.encode("utf-8", "surrogatepass"))
    if not 8 <= size <= 72:
        return f"{size} bytes of UTF-8"
    if any(_is_control(c) for c in value):
        return "a control character"
    return None


def search_rule(value) -> str | None:
    """q: "1 to 256 bytes of UTF-8 that contain at least one letter, number or emoji (Unicode general category L*,
    Nd, Nl, No or So)"; a q in which the index finds no word (only a tatweel, say) is refused too, which the server
    alone can tell, so a refusal of a q this rule accepts is left for the server's message to explain."""
    if not isinstance(value, str) or not value:
        return "empty"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > 256:
        return f"{size} bytes of UTF-8"
    if not any(unicodedata.category(c) in ("Nd", "Nl", "No", "So") or unicodedata.category(c)[0] == "L" for c in value):
        return "no letter, number or emoji"
    return None


def emoji_rule(value) -> str | None:
    """Emoji: "one grapheme cluster … of at most 64 bytes of UTF-8 that is rendered as an emoji: its first code point
    has the Emoji_Presentation property, or it contains U+FE0F …, or it is an emoji code point followed by more code
    points (keycaps, flags, skin tones, ZWJ sequences)". Python knows no emoji properties: this accepts symbols (So)
    with their modifiers, joined by ZWJ, a pair of regional indicators, a keycap, and nothing with a letter, digit,
    punctuation, space or control in it (a rough, not exact, reading of the rule)."""
    if not isinstance(value, str):
        return "not a string"
    if not value or len(value.encode("utf-8", "surrogatepass")) > 64:
        return "empty or over 64 bytes"
    if re.fullmatch(r"[0-9#*]\ufe0f?\u20e3", value):
        return None
    if re.fullmatch(r"[\U0001F1E6-\U0001F1FF]{2}", value):
        return None
    bases, joined = 0, True
    for c in value:
        if c == "\u200d":
            joined = True
            continue
        if c in "\ufe0e\ufe0f" or unicodedata.category(c) in ("Mn", "Me") or 0x1F3FB <= ord(c) <= 0x1F3FF \
                or 0xE0020 <= ord(c) <= 0xE007F:
            continue
        if unicodedata.category(c) != "So":
            return f"contains {unicodedata.name(c, hex(ord(c)))}"
        bases += 0 if joined and bases else 1
        joined = False
    if bases != 1:
        return "not one emoji"
    # Below U+1F000 most symbols are text unless followed by U+FE0F (roughly: Emoji_Presentation is not known here).
    if len(value) == 1 and ord(value) < 0x1F000:
        return "a symbol without U+FE0F"
    return None


def filename_rule(value) -> str | None:
    """UploadFilename: "1 to 255 bytes of UTF-8 without U+0000; anything else gets 400"."""
    if not isinstance(value, str):
        return "not a string"
    size = len(value.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= 255:
        return f"{size} bytes of UTF-8"
    if "\x00" in value:
        return "U+0000"
    return None


# RFC 9110 token characters, and what Swift's CharacterSet.whitespaces trims: U+0009 and the space separators (Zs).
TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
SPACES = "\t" + "".join(chr(c) for c in range(0x10000) if unicodedata.category(chr(c)) == "Zs")


def declared_type(value) -> str | None:
    """The media type chatd reads from a declared `content_type`, or None when it refuses it. DeclaredContentType:
    "the part before the first `;` (parameters are ignored), without surrounding spaces and tabs …, must be
    `type/subtype` with both parts made of the token characters …, at most 127 bytes; case does not matter".
    Swift's split skips empty pieces, so the part read is the first non-empty one (`;image/png` reads `image/png`)."""
    if not isinstance(value, str):
        return None
    essence = next((piece for piece in value.split(";") if piece), "").strip(SPACES).lower()
    parts = essence.split("/")
    if len(essence.encode("utf-8", "surrogatepass")) > 127 or len(parts) != 2 \
            or not all(part and set(part) <= TOKEN for part in parts):
        return None
    return essence


def content_type_rule(value) -> str | None:
    """DeclaredContentType, see declared_type."""
    return None if declared_type(value) else "not a media type"


# The spec's components with prose rules, and the rule for each.
PROSE_RULES = {"Password": password_rule, "SearchQuery": search_rule, "Emoji": emoji_rule,
               "UploadFilename": filename_rule, "DeclaredContentType": content_type_rule}


def upload_limit_rule(operation: str, body: dict, status: int, code: str | None) -> str | None:
    """startUpload: "`size` over the limit of the declared kind 413 `payload_too_large`: `media.max_image_bytes`
    for `image/…`, `media.max_video_bytes` for `video/…`, `media.max_file_bytes` for any other type". The reason
    when the response is that refusal of what was sent, else None."""
    if operation != "startUpload" or status != 413 or code != "payload_too_large":
        return None
    size, declared = body.get("size"), declared_type(body.get("content_type"))
    if not isinstance(size, int) or isinstance(size, bool) or declared is None:
        return None
    kind = "image" if declared.startswith("image/") else "video" if declared.startswith("video/") else "file"
    return f"size over the {kind} limit: 413" if size > MAX_UPLOAD_BYTES[kind] else None


# --- What the spec says about each operation -------------------------------------------------------------------------

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@cache
def spec_index() -> dict[str, dict]:
    """For each operationId: `integers`, the top-level body properties that are integers or arrays of integers; and
    `prose`, {(location, name): component} for the parameters and body properties whose schema (or parameter) is one
    of PROSE_RULES' components."""
    with open(SPEC, encoding="utf-8") as file:
        document = yaml.safe_load(file)

    def resolve(node):
        name = None
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            name = node["$ref"].rsplit("/", 1)[-1]
            target = document
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node, name

    def properties(schema) -> dict:
        schema, _ = resolve(schema)
        found = dict(schema.get("properties") or {}) if isinstance(schema, dict) else {}
        for keyword in ("allOf", "oneOf", "anyOf"):
            for branch in (schema.get(keyword) or []) if isinstance(schema, dict) else []:
                for key, value in properties(branch).items():
                    found.setdefault(key, value)
        return found

    def is_integer(schema) -> bool:
        schema, _ = resolve(schema)
        if not isinstance(schema, dict):
            return False
        types = schema.get("type")
        types = types if isinstance(types, list) else [types]
        if "integer" in types:
            return True
        return "array" in types and is_integer(schema.get("items") or {})

    index = {}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in HTTP_METHODS or "operationId" not in operation:
                continue
            entry = {"integers": set(), "prose": {}}
            for parameter in list(item.get("parameters") or []) + list(operation.get("parameters") or []):
                resolved, parameter_name = resolve(parameter)
                _, schema_name = resolve(resolved.get("schema") or {})
                for component in (parameter_name, schema_name):
                    if component in PROSE_RULES:
                        entry["prose"][(resolved["in"], resolved["name"])] = component
            body, _ = resolve(operation.get("requestBody") or {})
            schema = ((body.get("content") or {}).get("application/json") or {}).get("schema") or {}
            for name, property_schema in properties(schema).items():
                # A nullable optional property is `anyOf: [{$ref}, {type: null}]`: its rule is the $ref's.
                branches = [property_schema] + list((property_schema or {}).get("anyOf") or [])
                for branch in branches:
                    _, component = resolve(branch)
                    if component in PROSE_RULES:
                        entry["prose"][("body", name)] = component
                    if is_integer(branch):
                        entry["integers"].add(name)
            index[operation["operationId"]] = entry
    return index


# --- The hooks --------------------------------------------------------------------------------------------------------

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


def _value(case, location: str, name: str):
    """The value chatd read for a parameter or a top-level body property; None when it was not sent. By the time
    checks run, schemathesis holds path parameters percent-encoded, as sent; chatd decodes them once."""
    container = {"body": case.body, "query": case.query, "path": case.path_parameters}.get(location)
    value = container.get(name) if isinstance(container, dict) else None
    return unquote(value) if location == "path" and isinstance(value, str) else value


def _negated(case) -> set[tuple[str, str]] | None:
    """The (location, name) of every parameter or property a negative case made invalid; None when schemathesis does
    not say (then nothing is excused)."""
    try:
        from schemathesis.generation.meta import negated_parameters

        found = {(str(getattr(location, "value", location)), name) for name, location in negated_parameters(case.meta)}
    except Exception:
        return None
    return found or None


def _has_fraction(value) -> bool:
    """Whether a JSON value holds a number that is sent with a fraction or an exponent (a Python float)."""
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_fraction(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_fraction(item) for item in value)
    return False


def _excused(operation: str, reason: str) -> bool:
    """Drops the failure (False for `filter_failure`), noting why for run's summary."""
    if EXCUSED_LOG:
        with open(EXCUSED_LOG, "a", encoding="utf-8") as log:
            log.write(f"{operation}\t{reason}\n")
    return False


def _shape(message: str) -> str:
    """An error message with its numbers and quoted values blanked, so that excuses group in run's summary."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'…'", message))


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep a failure unless the spec explains it (see the module's docstring)."""
    operation = _operation_id(case)
    spec = spec_index().get(operation, {"integers": set(), "prose": {}})
    kind = type(failure).__name__
    code, message = _error(response)
    status = response.status_code

    body = case.body if isinstance(case.body, dict) else {}
    if kind == "RejectedPositiveData":
        for rule_status, rule_code, pattern in STATE_RULES.get(operation, []):
            if status == rule_status and code == rule_code and re.fullmatch(pattern, message):
                return _excused(operation, f"state rule: {status} {code}: {_shape(message)}")
        limit = upload_limit_rule(operation, body, status, code)
        if limit:
            return _excused(operation, limit)
        # "Integer properties take integer literals only: `1.0`, `1e0` and numbers outside 64 bits are refused with
        # 400." JSON Schema counts 1.0 as an integer, and schemathesis sends such numbers.
        fractional = sorted(
            name for name in spec["integers"] if name in body and (
                isinstance(body[name], float)
                or isinstance(body[name], list) and any(isinstance(item, float) for item in body[name]))
        )
        if fractional and status == 400 and code == "invalid_request":
            return _excused(operation, "integer literals only: a number with a fraction or exponent in "
                                       + ", ".join(fractional))
        if FRACTIONS_REFUSED_EVERYWHERE and _has_fraction(body) and status == 400 and code == "invalid_request":
            return _excused(operation, "a number with a fraction or exponent in the body")
        # MessageText: "At most `limits.max_message_bytes` bytes of UTF-8 (4096 by default): a longer text gets 413."
        text = body.get("text")
        if status == 413 and code == "payload_too_large" and isinstance(text, str) \
                and len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
            return _excused(operation, f"text over {MAX_MESSAGE_BYTES} bytes of UTF-8: 413")
        # A value the schema admits and the prose refuses (where the schema states only what is always accepted).
        for (location, name), component in spec["prose"].items():
            value = _value(case, location, name)
            broken = None if value is None else PROSE_RULES[component](value)
            if broken and status == 400 and code == "invalid_request":
                return _excused(operation, f"{component} rule refuses {name}: {broken}")
        return True

    if kind == "AcceptedNegativeData":
        # Between what a schema promises and what it refuses, the prose decides: "for example 20 × `é` (40 bytes) is
        # accepted" (Password), "a `q` of 65 to 256 characters is accepted when it is at most 256 bytes of UTF-8"
        # (q), the emoji the pattern does not list. Only when nothing else in the request was made invalid.
        # Accepted, such a value may still meet a later documented refusal of the rest of the request (an upload
        # over its size limit or the quota: 413), which the negative check does not expect either.
        negated = _negated(case)
        if negated and negated <= set(spec["prose"]) \
                and all(PROSE_RULES[spec["prose"][key]](_value(case, *key)) is None for key in negated):
            names = ", ".join(sorted(name for _, name in negated))
            if 200 <= status < 300:
                return _excused(operation, f"accepted {names}: outside the schema, inside the documented rule")
            later = upload_limit_rule(operation, body, status, code) or next(
                (f"state rule: {status} {code}: {_shape(message)}"
                 for rule_status, rule_code, pattern in STATE_RULES.get(operation, [])
                 if status == rule_status and code == rule_code and re.fullmatch(pattern, message)), None)
            if later:
                return _excused(operation, f"accepted {names}: inside the documented rule, then {later}")
        return True

    return True


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Alice never leaves the fixture's group (every later group operation would then be a 404): a request that would
    remove her from it removes carol instead (whom addMembers may bring back)."""
    if _operation_id(case) != "removeMember" or not (ALICE_ID and CAROL_ID and GROUP_ID):
        return
    path = case.path_parameters or {}
    if str(path.get("conversation_id")) == GROUP_ID and str(path.get("user_id")) == ALICE_ID:
        path["user_id"] = int(CAROL_ID)
