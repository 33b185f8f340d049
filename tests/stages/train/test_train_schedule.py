"""Progressive resolution, plateau early stopping and the time/step budget."""

from __future__ import annotations

from splatflow.stages.train.schedule import Budget, PlateauStopper, resolution_factor


def test_resolution_starts_coarse_and_doubles_each_stage_until_full():
    factors = [resolution_factor(step, coarse_levels=2, steps_per_level=100) for step in (0, 99, 100, 199, 200, 5000)]
    assert factors == [0.25, 0.25, 0.5, 0.5, 1.0, 1.0]


def test_plateau_is_detected_only_when_recent_gains_are_below_threshold():
    stopper = PlateauStopper(window=2, min_gain_db=0.1)
    for value in (15.0, 18.0, 20.0, 21.0, 21.05):
        stopper.record(value)
        assert not stopper.plateaued()
    stopper.record(21.08)  # the last two evaluations beat 21.0 by only 0.08 dB
    assert stopper.plateaued()


def test_budget_names_the_limit_that_ran_out():
    assert Budget(max_steps=10, max_minutes=60).exhausted_by(9) is None
    assert Budget(max_steps=10, max_minutes=60).exhausted_by(10) == "max_steps"
    assert Budget(max_steps=10, max_minutes=0).exhausted_by(0) == "max_minutes"


def test_progress_follows_whichever_budget_runs_out_first():
    assert Budget(max_steps=100, max_minutes=60).progress(25) == 0.25
    assert Budget(max_steps=100, max_minutes=60).progress(500) == 1.0
    assert Budget(max_steps=100, max_minutes=0).progress(0) == 1.0  # time is up before any step
