"""What every benchmark table shares: one JSON record per (arm, seed) run, written atomically as
the run ends, reused by a later invocation with the same settings (so a table resumes where a
session stopped), and the machine each run was made on.

    records = runs.run_all(out, [("lzn", 0), ("rf", 0)], settings, run_one, sizes, show)

`run_one(arm, seed)` returns the run's record (it must hold `sizes`' keys); `settings[arm]` is what
a run depends on: a finished run made with other settings or sizes is refused by name, never
mixed into a table.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lzn import atomic


def machine() -> dict:
    return {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }  # fmt: skip


def machine_line(m: dict) -> str:
    return (
        f"{m['platform']} ({m['processor']}), {m['cpus']} CPUs, torch threads "
        f"{m['torch_threads']}, torch {m['torch']}"
    )


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def write_json(path: Path, obj) -> None:
    atomic.write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=1) + "\n"))


def write_text(path: Path, text: str) -> None:
    atomic.write(path, lambda tmp: Path(tmp).write_text(text))


def run_path(out: Path, arm: str, seed: int) -> Path:
    return out / f"{arm}-seed{seed}.json"


def load_finished(path: Path, settings: dict, sizes: dict) -> dict:
    """A finished run's record, if it was made with these settings and data sizes."""
    record = json.loads(path.read_text())
    made = record["settings"]
    if made != settings or any(record.get(k) != v for k, v in sizes.items()):
        changed = sorted(k for k in {*settings, *made} if settings.get(k) != made.get(k))
        what = ", ".join(changed) if changed else "the data sizes"
        raise ValueError(
            f"{path} was made with other settings ({what}): choose another --out or delete it"
        )
    return record


def run_all(
    out: Path,
    runs: list[tuple[str, int]],
    settings: dict[str, dict],
    run_one: Callable[[str, int], dict],
    sizes: dict,
    show: Callable[[dict], str],
) -> list[dict]:
    """Every (arm, seed) run, reusing finished runs in `out`; each written when it ends."""
    out.mkdir(parents=True, exist_ok=True)
    finished = {  # checked before any training: a mismatch fails at once
        (arm, seed): load_finished(run_path(out, arm, seed), settings[arm], sizes)
        for arm, seed in runs
        if run_path(out, arm, seed).exists()
    }
    records = []
    for arm, seed in runs:
        path = run_path(out, arm, seed)
        if (arm, seed) in finished:
            record = finished[arm, seed]
            print(f"{arm} seed {seed}: finished earlier ({path})", flush=True)
        else:
            print(f"{arm} seed {seed}: running", flush=True)
            record = run_one(arm, seed)
            write_json(path, record)
        print(f"  {show(record)}", flush=True)
        records.append(record)
    return records


def by_arm(records: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for r in records:
        grouped.setdefault(r["method"], []).append(r)
    return grouped


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value) of per-seed results."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarise(records: list[dict], metrics: tuple[str, ...], timings: tuple[str, ...]) -> dict:
    """Per arm: each metric its runs have, by seed with mean and standard deviation over seeds,
    and the mean of each timing (seconds per run)."""
    rows = {}
    for arm, group in by_arm(records).items():
        row: dict = {}
        for metric in metrics:
            values = {r["seed"]: r[metric] for r in group if r.get(metric) is not None}
            if values:
                mean, std = mean_std(list(values.values()))
                row[metric] = {"by_seed": values, "mean": mean, "std": std}
        for key in timings:
            row[key] = mean_std([r[key] for r in group if key in r] or [0.0])[0]
        rows[arm] = row
    return rows


def cell(row: dict, metric: str, scale: float = 1.0, digits: int = 3) -> str:
    """'mean ± std' of a summarised metric (times `scale`), or '-' where the arm has none."""
    if metric not in row:
        return "-"
    m = row[metric]
    return f"{scale * m['mean']:.{digits}f} ± {scale * m['std']:.{digits}f}"


def table_head(
    title: str, about: list[str], records: list[dict], command: str, date: str, columns: list[str]
) -> list[str]:
    """A results table's opening lines: title, what was run, seeds, machines, date, command, and
    the header row of `columns`."""
    seeds = ", ".join(map(str, sorted({r["seed"] for r in records})))
    machines = "; ".join(sorted({machine_line(r["machine"]) for r in records}))
    return [
        f"# {title}", "", *about,
        f"Seeds: {seeds}; mean ± standard deviation over seeds.",
        f"Machine: {machines}.", f"Date: {date}.", f"Command: `{command}`", "",
        "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
    ]  # fmt: skip
