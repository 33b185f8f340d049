"""A run's plan: the checked submission, where the run keeps its objects, and whether it is done.

``validate`` makes the plan once; it travels between tasks through XCom as plain JSON
(``PreparedRun.to_dict``), so each task rebuilds typed objects from it rather than re-reading
params that a user could change.

A run whose result was already emailed is finished: when it is cleared or re-run, the plan says
``delivered`` and every step after the input check skips, instead of starting the stage jobs
again, which would rewrite the very files the email links to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from splatflow.contract.outputs import MODEL_PLY, SFM_REPORT
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.submission import Submission


@dataclass(frozen=True)
class PreparedRun:
    run_id: str
    submission: Submission
    layout: RunLayout
    delivered: bool = False
    """The result email of this run already went out: nothing is to be redone."""

    @property
    def wait_for_uri(self) -> str:
        """The object whose arrival starts the run: the ZIP, the SfM report, or the model (a model
        folder's ``.ply``).

        A delivered run waits for its own delivery record, which is there: its input may be
        long gone, and a cleared run must not fail (and email the user) for want of it.
        """
        if self.delivered:
            return f"s3://{self.layout.bucket}/{self.layout.delivery_key}"
        steps = self.submission.steps
        if steps == "full":
            assert self.submission.input is not None
            return self.submission.input.uri
        if steps == "train_and_compress":
            assert self.submission.sfm_output is not None
            return self.submission.sfm_output.joinpath(SFM_REPORT).uri
        model = self.submission.model
        assert model is not None
        return model.joinpath(MODEL_PLY).uri if model.key.endswith("/") else model.uri

    @property
    def runs_sfm(self) -> bool:
        """Whether this run starts an SfM job (a delivered run starts none)."""
        return self.submission.steps == "full" and not self.delivered

    @property
    def runs_training(self) -> bool:
        """Whether this run starts a training job (a delivered run starts none)."""
        return self.submission.steps in {"full", "train_and_compress"} and not self.delivered

    @property
    def runs_compression(self) -> bool:
        """Whether this run starts a compression job: every run does, unless it was delivered."""
        return not self.delivered

    def starts(self, stage: str) -> bool:
        """Whether this run starts the job of ``stage`` (one of ``ids.STAGES``)."""
        return {"sfm": self.runs_sfm, "train": self.runs_training, "compress": self.runs_compression}[stage]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "submission": self.submission.to_dict(),
            "layout": self.layout.to_dict(),
            "delivered": self.delivered,
            "wait_for_uri": self.wait_for_uri,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> PreparedRun:
        return cls(
            run_id=payload["run_id"],
            submission=Submission.from_dict(payload["submission"]),
            layout=RunLayout.from_dict(payload["layout"]),
            # Plans written before this field existed belong to runs still in flight.
            delivered=payload.get("delivered", False),
        )
