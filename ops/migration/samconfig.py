"""A samconfig.toml environment as text, in the forms SAM CLI reads back exactly (pure).

`sam deploy` reads each `parameter_overrides` entry as `Key=Value`: a value with a space or a quote must be
wrapped in double quotes with `\\"` for each quote inside, and after reading SAM turns `\\ `, `\\'` and `\\"`
back into the character. A value containing one of those pairs, or ending in a backslash, has no form SAM
reads back unchanged; `sam_override` refuses it (the plan then writes the key into Routes JSON, where
`\\u` escapes avoid backslash pairs altogether).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

# Pairs SAM's reader rewrites, wherever they are in a value.
_REWRITTEN_PAIRS = re.compile(r"\\[\s'\"]|\\$")
_NEEDS_QUOTES = re.compile(r"[\s'\"\\]")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class NotExpressible(ValueError):
    """SAM CLI would read this parameter value back as a different string."""


def sam_override(name: str, value: str) -> str:
    if _REWRITTEN_PAIRS.search(value):
        raise NotExpressible(f"{name}: SAM CLI would rewrite the backslash pairs in {value!r}")
    if value and not _NEEDS_QUOTES.search(value):
        return f"{name}={value}"
    escaped = value.replace('"', '\\"')
    return f'{name}="{escaped}"'


def expressible(value: str) -> bool:
    return not _REWRITTEN_PAIRS.search(value)


def json_for_sam(document: Any) -> str:
    """Compact JSON whose strings carry quotes and backslashes as \\u escapes, so SAM's reader leaves it intact."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return re.sub(r"\\(.)", lambda pair: {'"': "\\u0022", "\\": "\\u005c"}.get(pair.group(1), pair.group(0)), text)


def toml_string(text: str) -> str:
    """A TOML string for `text`: a literal string when it reads better (quotes, backslashes), else a basic one."""
    control = any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
    if not control and "'" not in text and ('"' in text or "\\" in text):
        return f"'{text}'"
    escaped = "".join(_TOML_ESCAPES.get(char, _unicode_escape(char)) for char in text)
    return f'"{escaped}"'


def environment_block(
    environment: str, settings: Mapping[str, str | bool], parameters: Sequence[tuple[str, str]]
) -> str:
    """`[ENV.deploy.parameters]` with the given settings, then every parameter override on its own line."""
    lines = [f"[{environment}.deploy.parameters]"]
    for name, value in settings.items():
        lines.append(f"{name} = {str(value).lower() if isinstance(value, bool) else toml_string(value)}")
    lines.append("parameter_overrides = [")
    lines.extend(f"  {toml_string(sam_override(name, value))}," for name, value in parameters)
    lines.append("]")
    return "\n".join(lines)


def _unicode_escape(char: str) -> str:
    return f"\\u{ord(char):04X}" if ord(char) < 0x20 or ord(char) == 0x7F else char
