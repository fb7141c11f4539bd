"""What every part of the device suite shares: its settings, time budgets, and tables that are
saved after every row (a part stopped by its time limit still leaves the rows it finished)."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from lzn.zoning import backend


@dataclass(frozen=True)
class Settings:
    smoke: bool  # CPU, tiny sizes: the same code paths, checked in CI
    out: Path
    budget_s: float  # soft time budget of one part: rows not started in time are skipped

    @property
    def device(self) -> str:
        return "cpu" if self.smoke else "cuda"


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_mib(device: str) -> float | None:
    """Peak allocated memory since `reset_peak`; None on CPU, where an in-process figure would be
    the whole process's high-water mark."""
    return torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None


def triton_runs_on(device: str) -> str | None:
    """None when the Triton kernel can run on `device`, else why not."""
    if not backend.triton_available():
        return "triton is not installed"
    if device == "cpu":
        from lzn.zoning import triton_kernel

        if not triton_kernel.interpreted():
            return "CPU tensors need TRITON_INTERPRET=1"
    return None


def machine() -> dict:
    cuda = torch.cuda.is_available()
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name() if cuda else platform.processor() or "cpu",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "LZN_KERNEL": os.environ.get(backend.ENV, ""),
    }
    if backend.triton_available():
        import triton

        info["triton"] = triton.__version__
    return info


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


SKIPPED_FOR_TIME = "skipped: the part's time budget was spent"


def failed(error: BaseException) -> str:
    """A row's note for an error that stopped it; the traceback goes to the log. One form that
    fails (a kernel that does not build, say) must not cost the rest of a one-shot device run."""
    traceback.print_exception(error)
    if isinstance(error, torch.OutOfMemoryError):
        return "out of memory"
    first = (str(error).strip().splitlines() or [""])[0][:100]
    return f"failed: {type(error).__name__}: {first}"


@dataclass
class Table:
    title: str
    columns: list[str]  # the row keys, in order; a missing key is an empty cell
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Part:
    """One part's tables, written to OUT/<name>.json after every change."""

    def __init__(self, name: str, settings: Settings, tables: dict[str, Table]):
        self.name, self.settings, self.tables = name, settings, tables
        self.path = settings.out / f"{name}.json"
        self.finished = False  # stays False in the file if the part is stopped by its limit
        self.save()

    def add(self, table: str, row: dict) -> dict:
        """Appends `row` itself (a later change to it is saved by the next `save`)."""
        self.tables[table].rows.append(row)
        self.save()
        return row

    def note(self, table: str, text: str) -> None:
        self.tables[table].notes.append(text)
        self.save()

    def finish(self) -> None:
        self.finished = True
        self.save()

    def save(self) -> None:
        data = {
            "part": self.name,
            "smoke": self.settings.smoke,
            "finished": self.finished,
            "machine": machine(),
            "tables": {k: asdict(t) for k, t in self.tables.items()},
        }
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1, allow_nan=False, default=str))
        tmp.replace(self.path)


def cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0 or 1e-2 <= abs(value) < 1e5:
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        return f"{value:.1e}"
    return str(value)


def markdown(table: dict) -> str:
    cols = table["columns"]
    lines = [f"### {table['title']}", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "---|" * len(cols))
    for row in table["rows"]:
        lines.append("| " + " | ".join(cell(row.get(c)) for c in cols) + " |")
    lines += [""] + [f"- {n}" for n in table["notes"]]
    return "\n".join(lines).rstrip() + "\n"
