"""SIGTERM as a request to checkpoint and stop, the way SageMaker stops a training job.

SageMaker sends the algorithm SIGTERM and ends it 120 seconds later, on ``StopTrainingJob`` and
when ``StoppingCondition.MaxRuntimeInSeconds`` is reached ("Algorithms might use this 120-second
window to save the model artifacts", API reference: StopTrainingJob, StoppingCondition). For a
managed spot interruption the SageMaker guide ("Managed Spot Training") says only that SageMaker
manages the interruption and restores ``/opt/ml/checkpoints`` into the restarted job; EC2 gives a
Spot Instance two minutes' notice (EC2 user guide, "Spot Instance interruption notices"). Which
signal, if any, the container sees then is not documented, so the periodic checkpoints stay the
only guarantee for spot; this handler covers the documented stops.

The stage's Python is the container's PID 1 (the entry point ``exec``s it), and the kernel does
not deliver a signal to PID 1 whose disposition is the default: without this handler SIGTERM was
ignored and the job was killed at the end of the 120 seconds with the steps since the last
checkpoint lost. The handler only records the signal; the loop finishes its step, writes a
checkpoint and stops, so no tensor is touched from inside a signal handler.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)


class StopSignal:
    """Whether a stop has been asked for (``requested``), and by which signal."""

    def __init__(self) -> None:
        self.signal_number: int | None = None

    @property
    def requested(self) -> bool:
        return self.signal_number is not None

    def receive(self, signal_number: int, _frame: FrameType | None = None) -> None:
        if self.signal_number is None:
            log.warning("%s received: checkpointing and stopping", signal.Signals(signal_number).name)
        self.signal_number = signal_number

    @contextmanager
    def installed(self) -> Iterator[StopSignal]:
        """Handle SIGTERM for the duration, then restore the handler that was there."""
        previous = signal.signal(signal.SIGTERM, self.receive)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)
