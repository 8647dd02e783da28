"""The benchmark's results: a target measured in rounds is rated by the median of its rounds."""

from __future__ import annotations

from bench.driver import LoadResult


def _round(rate: float, errors: int = 0, first_error: str = "") -> LoadResult:
    runs = int(rate * 2)
    return LoadResult("ours", 8, seconds=2.0, latencies=[0.01] * runs, errors=errors, first_error=first_error)


def test_rounds_are_rated_by_their_median_and_pool_the_rest() -> None:
    rounds = [_round(100.0), _round(40.0, errors=1, first_error="boom"), _round(120.0, errors=2, first_error="later")]
    result = LoadResult.of_rounds(rounds)
    assert result.runs_per_second == 100.0  # one disturbed round (40) does not drag the rate down
    assert result.round_rates == [100.0, 40.0, 120.0]
    assert (result.runs, result.seconds, result.errors, result.first_error) == (520, 6.0, 3, "boom")


def test_a_single_measurement_is_rated_by_runs_over_seconds() -> None:
    assert _round(75.0).runs_per_second == 75.0
    assert LoadResult("idle", 1, seconds=0.0).runs_per_second == 0.0
