"""Progress of long phases (evaluation, sampling): one tqdm bar per phase, a line per section.

The library functions are quiet unless called with `progress=True`; the commands turn it on.
Both go to stderr, so stdout keeps only the report. Bars follow tqdm's convention: they are drawn
only when stderr is a terminal (a log file or a captured stream gets no carriage-return noise);
the section lines ("lzn evaluate: accuracy ...", "... done in 12.3 s") are always written, so a
log still shows what runs and how long each part took.
"""

from __future__ import annotations

import sys
import time


def bar(total: int, desc: str, *, enabled: bool, unit: str = "it"):
    """A tqdm bar with a total; a silent one (same interface) when not `enabled`."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,  # looked up now, so a redirected or captured stderr is honoured
        disable=None if enabled else True,  # None: tqdm draws only on a terminal
        leave=False,  # the section line records the time; finished bars would pile up
        dynamic_ncols=True,
    )


class TimeBar:
    """A bar over the time of an ODE integration (t0 -> t1), updated with the fraction of it that
    the slowest sample has covered: adaptive samplers have no step count to show."""

    def __init__(self, desc: str, *, enabled: bool):
        self._bar = bar(1000, desc, enabled=enabled, unit="‰")

    def __call__(self, fraction: float) -> None:
        self._bar.update(round(1000 * fraction) - self._bar.n)

    def __enter__(self) -> TimeBar:
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()


class Section:
    """`with Section("accuracy", "2 alphas x 3 batch sizes") as s:` writes a start line and, at
    the end, the elapsed time (`s.seconds`) to stderr, if `enabled`."""

    def __init__(self, name: str, detail: str = "", *, enabled: bool = True, prefix: str = ""):
        self.name, self.detail, self.enabled, self.prefix = name, detail, enabled, prefix
        self.seconds = 0.0

    def _say(self, text: str) -> None:
        if self.enabled:
            print(f"{self.prefix}{text}", file=sys.stderr, flush=True)

    def __enter__(self) -> Section:
        self._start = time.perf_counter()
        self._say(f"{self.name}: {self.detail}" if self.detail else f"{self.name} ...")
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.seconds = round(time.perf_counter() - self._start, 2)
        if kind is None:
            self._say(f"{self.name} done in {self.seconds:.1f} s")
