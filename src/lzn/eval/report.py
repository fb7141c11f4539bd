"""Evaluation reports: report.json (every number, its protocol, software versions), report.md
(a summary table), and plots (FID vs sampling steps, accuracy vs alpha and batch size)."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from pathlib import Path

import torch

PACKAGES = ("lzn", "torch", "numpy", "scipy", "scikit-learn", "safetensors", "torch-fidelity")


def software() -> dict:
    """Versions of Python, the packages the numbers depend on, the machine and its threads."""
    versions = {"python": sys.version.split()[0]}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    versions["machine"] = platform.platform()
    versions["torch_threads"] = torch.get_num_threads()
    versions["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return versions


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def markdown(report: dict) -> str:
    """A human summary of report.json: one table per metric family."""
    results = report["results"]
    lines = [
        f"# Evaluation of {report['model']['name']} on {report['data']['name']}",
        "",
        f"Model: `{report['model']['path']}`. Data: {report['data']['description']}. "
        f"Seed {report['seed']}. Every number's protocol is in report.json.",
        "",
    ]
    if "generation" in results:
        gen = results["generation"]
        lines += [
            "## Generation",
            "",
            f"Features: {report['features']['description']}. Reference: "
            f"{gen['reference']['description']}.",
            "",
            "| sampler | steps | samples | FID | KID (x1e3) | IS | precision | recall |",
            "|---|---|---|---|---|---|---|---|",
        ]
        rows = list(gen["runs"])
        if gen.get("held_out_real"):
            rows.append({"sampler": "held-out real", "steps": "-", **gen["held_out_real"]})
        for row in rows:
            kid, isc, pr = row.get("kid"), row.get("inception_score"), row.get("precision_recall")
            cells = [
                row["sampler"],
                str(row["steps"]),
                str(row["samples"]),
                f"{row['fid']:.3f}" if "fid" in row else "-",
                f"{1e3 * kid['mean']:.3f} ± {1e3 * kid['std']:.3f}" if kid else "-",
                f"{isc['mean']:.3f} ± {isc['std']:.3f}" if isc else "-",
                f"{pr['precision']:.3f}" if pr else "-",
                f"{pr['recall']:.3f}" if pr else "-",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if "accuracy" in results:
        lines += [
            "## Classification (image encoder + label decoder)",
            "",
            "| alpha | evaluation batch | anchor bank | accuracy |",
            "|---|---|---|---|",
        ]
        for row in results["accuracy"]:
            bank = f"{row['bank']} ({row['bank_size']})" if row["bank_size"] else "none"
            lines.append(
                f"| {row['alpha']:g} | {row['batch_size']} | {bank} | {_pct(row['accuracy'])} |"
            )
        lines.append("")
    if "reconstruction" in results:
        r = results["reconstruction"]
        lines += [
            "## Reconstruction",
            "",
            f"{r['error']:.4f} ± {r['std_over_draws']:.4f} (std over draws): {r['unit']}, mean "
            f"over {r['images']} training images x {r['repeats']} latent draws ({r['sampler']}, "
            f"{r['steps']} steps, evaluation batch {r['batch_size']}).",
            "",
        ]
    if "linear_probe" in results or "knn" in results:
        lines += ["## Representation (frozen `model.embed` features)", ""]
        lines += ["| method | top-1 | top-5 |", "|---|---|---|"]
        if "linear_probe" in results:
            lp = results["linear_probe"]
            if "epochs" in lp:  # the paper's main protocol: trained on augmented images
                flip = ", flips" if lp["flip"] else ""
                how = (
                    f"augmented (crop area {lp['crop_scale'][0]:g}-{lp['crop_scale'][1]:g}"
                    f"{flip}; AdamW, {lp['epochs']} epochs)"
                )
            else:
                how = f"L-BFGS, un-augmented (weight decay {lp['weight_decay']:g})"
            lines.append(f"| linear probe, {how} | {_pct(lp['top1'])} | {_pct(lp['top5'])} |")
        for key, value in results.get("knn", {}).items():
            if key.startswith("k="):
                lines.append(
                    f"| kNN {key}, T={report['config']['knn'].get('temperature', 0.07)} "
                    f"| {_pct(value['top1'])} | {_pct(value['top5'])} |"
                )
        lines.append("")
    sw = report["software"]
    lines += [
        "## Software",
        "",
        ", ".join(f"{k} {v}" for k, v in sw.items() if v is not None),
        "",
        f"Wall time: {report['seconds']['total']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fid_vs_steps(runs: list[dict], path: Path, held_out: float | None = None) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for sampler in sorted({r["sampler"] for r in runs}):
        points = sorted((r["steps"], r["fid"]) for r in runs if r["sampler"] == sampler)
        ax.plot(*zip(*points, strict=True), marker="o", label=sampler)
    if held_out is not None:
        ax.axhline(held_out, color="grey", linestyle="--", label="held-out real images")
    steps = sorted({r["steps"] for r in runs})
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.set_xlabel("sampling steps")
    ax.set_ylabel("FID")
    ax.legend()
    ax.set_title("FID vs sampling steps")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy(rows: list[dict], path: Path) -> None:
    """Accuracy vs alpha, one line per evaluation batch size (the paper's Fig. 25 as lines)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for bank, batch in sorted({(r["bank"], r["batch_size"]) for r in rows}):
        points = sorted(
            (r["alpha"], 100 * r["accuracy"])
            for r in rows
            if r["batch_size"] == batch and r["bank"] == bank
        )
        label = f"batch {batch}" + ("" if bank == "none" else f", bank: {bank}")
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xlabel("alpha (latent noise scale)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=7)
    ax.set_title("classification accuracy vs alpha and batch size")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
