"""Read the policy documents in ``docs/iam/`` and decide requests against them as IAM does.

Only the part of IAM's policy language those documents use is implemented, and anything else
is refused loudly (an unknown condition operator raises) rather than waved through:

- ``Allow``/``Deny`` statements with ``Action``, ``Resource`` and, in trust policies, a service
  ``Principal``; an explicit deny wins, and nothing is allowed unless a statement allows it;
- ``*`` and ``?`` globs (actions case-insensitive, resources case-sensitive);
- conditions ``StringEquals``, ``StringLike``, ``ArnLike``, ``Bool`` and
  ``ForAllValues:StringLike``; a single-valued operator on a key the request lacks is false,
  ``ForAllValues`` on an empty set is true, as IAM evaluates them.
"""

from __future__ import annotations

import enum
import json
import re
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from iam_authorizations import Authorization

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO_ROOT / "docs" / "iam"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


class Decision(enum.Enum):
    ALLOWED = "allowed"
    IMPLICITLY_DENIED = "not allowed by any statement"
    EXPLICITLY_DENIED = "denied by a statement"


def placeholders_in(path: Path) -> set[str]:
    return set(PLACEHOLDER.findall(path.read_text(encoding="utf-8")))


def load_policy(name: str, values: Mapping[str, str]) -> dict[str, Any]:
    """``docs/iam/<name>`` with its ``${Placeholder}``s filled in; an unfilled one is an error."""
    text = (POLICY_DIR / name).read_text(encoding="utf-8")
    policy: dict[str, Any] = json.loads(string.Template(text).substitute(values))
    return policy


def statements(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    listed = policy["Statement"]
    return list(listed) if isinstance(listed, list) else [listed]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def glob_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


def _string_like(expected: str, actual: str) -> bool:
    return glob_matches(expected, actual)


def _bool(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


SINGLE_VALUED: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _string_equals,
    "StringLike": _string_like,
    "ArnLike": _string_like,
    "Bool": _bool,
}
FOR_ALL_VALUES: dict[str, Callable[[str, str], bool]] = {"ForAllValues:StringLike": _string_like}


def _condition_holds(operator: str, key: str, expected: list[str], context: Mapping[str, Any]) -> bool:
    actual = context.get(key)
    if operator in FOR_ALL_VALUES:
        test = FOR_ALL_VALUES[operator]
        values = () if actual is None else as_list(actual)
        return all(any(test(item, value) for item in expected) for value in values)
    if operator not in SINGLE_VALUED:
        raise ValueError(f"condition operator {operator} is not supported by this evaluator")
    if actual is None or not isinstance(actual, str):
        return False
    return any(SINGLE_VALUED[operator](item, actual) for item in expected)


def _applies(statement: Mapping[str, Any], request: Authorization) -> bool:
    if "NotAction" in statement or "NotResource" in statement or "NotPrincipal" in statement:
        raise ValueError("NotAction/NotResource/NotPrincipal are not supported by this evaluator")
    if not any(glob_matches(action, request.action, ignore_case=True) for action in as_list(statement["Action"])):
        return False
    principal = statement.get("Principal")
    if request.principal_service is not None:
        if principal is None or request.principal_service not in as_list(principal.get("Service", [])):
            return False
    elif principal is not None:
        return False
    if "Resource" in statement and not any(
        glob_matches(resource, request.resource) for resource in as_list(statement["Resource"])
    ):
        return False
    conditions: Mapping[str, Mapping[str, str | list[str]]] = statement.get("Condition", {})
    return all(
        _condition_holds(operator, key, as_list(expected), request.context)
        for operator, keys in conditions.items()
        for key, expected in keys.items()
    )


def decide(policy: Mapping[str, Any], request: Authorization) -> Decision:
    matching = [statement for statement in statements(policy) if _applies(statement, request)]
    if any(statement["Effect"] == "Deny" for statement in matching):
        return Decision.EXPLICITLY_DENIED
    if any(statement["Effect"] == "Allow" for statement in matching):
        return Decision.ALLOWED
    return Decision.IMPLICITLY_DENIED


def granted_actions(policy: Mapping[str, Any]) -> set[str]:
    return {action for statement in statements(policy) for action in as_list(statement["Action"])}
