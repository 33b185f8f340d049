"""The one way a submission is refused: an error in the user's words, with the kind of refusal."""

from __future__ import annotations

from splatflow.contract.failures import FailureCode


class SubmissionError(ValueError):
    """A submission we refuse; the message is for the user and says what to do instead, the code
    says what kind of refusal it is (the failure email's advice follows it)."""

    def __init__(self, message: str, code: FailureCode = FailureCode.INVALID_SUBMISSION) -> None:
        super().__init__(message)
        self.code = code


def type_name(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"
