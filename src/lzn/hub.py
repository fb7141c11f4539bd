"""Models on the Hugging Face Hub, through `huggingface_hub` (optional: `pip install
huggingface_hub`), which downloads into its cache and reads from it offline
(HF_HUB_OFFLINE=1).

    hf://OWNER/REPO[@REVISION][/PATH]

names a file (an official checkpoint, for `lzn convert` and `LZN.from_official`) or a folder
(an lzn model folder, for `LZN.from_pretrained`; the repository's root without PATH).
`push_to_hub(model, repo_id)` uploads config.json, model.safetensors (and bank.safetensors)
with a generated model card.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCHEME = "hf://"
PAPER = "https://arxiv.org/abs/2509.15591"
_MODEL_FILES = ("config.json", "model.safetensors", "bank.safetensors")


class MissingHubDependency(ImportError):
    """huggingface_hub is not installed."""


def _hub():
    """huggingface_hub, and what its downloads raise when they fail: HTTP errors (repository or
    file not found, no network), a file the repository lacks, no cached copy offline (OSError)."""
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError:
        raise MissingHubDependency(
            "Hub references (hf://...) and push_to_hub need the huggingface_hub package: "
            "pip install huggingface_hub"
        ) from None
    return huggingface_hub, (errors.HfHubHTTPError, errors.EntryNotFoundError, OSError)


@dataclass(frozen=True)
class Reference:
    repo_id: str  # OWNER/REPO
    path: str  # inside the repository; "" for its root
    revision: str | None = None  # a branch, tag or commit; None: the default branch

    def __str__(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        return f"{SCHEME}{self.repo_id}{at}" + (f"/{self.path}" if self.path else "")


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def parse(reference: str) -> Reference:
    """hf://OWNER/REPO[@REVISION][/PATH]; a ValueError says what is wrong."""
    if not is_reference(reference):
        raise ValueError(f"a Hub reference starts with {SCHEME}, got {reference!r}")
    parts = reference[len(SCHEME) :].strip("/").split("/")
    if len(parts) < 2 or not all(parts[:2]):
        raise ValueError(f"a Hub reference is {SCHEME}OWNER/REPO[/PATH], got {reference!r}")
    name, _, revision = parts[1].partition("@")
    if not name or (_ and not revision):
        raise ValueError(f"{reference!r}: expected REPO or REPO@REVISION, got {parts[1]!r}")
    return Reference(f"{parts[0]}/{name}", "/".join(p for p in parts[2:] if p), revision or None)


def _not_found(reference: Reference, error: Exception) -> FileNotFoundError:
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    hint = " (offline mode: only what is in the local cache can be used)" if offline else ""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return FileNotFoundError(f"{reference} could not be fetched{hint}: {reason}")


def resolve_file(reference: str) -> Path:
    """The local path of the file a reference names, downloaded into the Hub cache if needed."""
    (hub, fetch_errors), ref = _hub(), parse(reference)
    if not ref.path:
        raise ValueError(f"{reference!r} names a repository, not a file in it")
    try:
        return Path(
            hub.hf_hub_download(ref.repo_id, ref.path, revision=ref.revision, library_name="lzn")
        )
    except fetch_errors as e:
        raise _not_found(ref, e) from None


def resolve_model_folder(reference: str) -> Path:
    """The local copy of the lzn model folder a reference names (config.json, weights and the
    anchor bank when there is one), from the Hub cache."""
    (hub, fetch_errors), ref = _hub(), parse(reference)
    prefix = f"{ref.path}/" if ref.path else ""
    try:
        root = hub.snapshot_download(
            ref.repo_id, revision=ref.revision, library_name="lzn",
            allow_patterns=[prefix + f for f in _MODEL_FILES],
        )  # fmt: skip
    except fetch_errors as e:
        raise _not_found(ref, e) from None
    return Path(root) / ref.path


def model_card(model, report: dict | None = None, repo_id: str = "OWNER/REPO") -> str:
    """README.md for the Hub: library, paper, preset and architecture, how to load the model,
    and the numbers of its `lzn evaluate` report when given."""
    config = model.config
    image = config["image"]
    encoder = image["encoder"]["type"]
    tasks = ["encode", "latents", "embed"]
    if image.get("decoder"):
        tasks += ["generate", "reconstruct"]
    if config.get("label"):
        tasks.append("classify")
    lines = [
        "---",
        "library_name: lzn",
        "tags:",
        "- latent-zoning-networks",
        "- lzn",
        "---",
        "",
        f"# {config['name']}",
        "",
        f"A Latent Zoning Network ([Lin et al., NeurIPS 2025]({PAPER})) in the `lzn` library's "
        "format: `config.json` (the architecture) and `model.safetensors` (the weights; loading "
        "never unpickles).",
        "",
        f"* preset: `{config['name']}`",
        f"* images: {image['channels']}x{image['size']}x{image['size']} in [-1, 1], "
        f"{encoder} encoder, {'a' if image.get('decoder') else 'no'} decoder",
        f"* latent dimension: {config['latent_dim']}",
        f"* tasks: {', '.join(tasks)}",
    ]
    if model.training_data:
        lines.append(f"* training data: `{json.dumps(model.training_data)}`")
    lines += [
        "",
        "```python",
        "from lzn import LZN",
        f'model = LZN.from_pretrained("{SCHEME}{repo_id}")',
        "```",
        "",
    ]
    if report:
        from lzn.eval import report as reports

        lines.append(reports.markdown(report))  # its own "# Evaluation of ..." section
    else:
        lines += ["## Evaluation", "", "No evaluation report was given with this upload.", ""]
    return "\n".join(lines)


def push_to_hub(
    model,
    repo_id: str,
    *,
    path_in_repo: str | None = None,
    report: dict | str | os.PathLike | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload lzn model",
):
    """Upload the model folder (save_pretrained) and a model card (README.md) to `repo_id`,
    creating the repository if needed; `report`: an `lzn evaluate` report (report.json or its
    dict) whose numbers the card lists. Returns huggingface_hub's commit information."""
    hub, _ = _hub()
    if isinstance(report, (str, os.PathLike)):
        report = json.loads(Path(report).read_text())
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        (Path(folder) / "README.md").write_text(model_card(model, report, repo_id))
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            path_in_repo=path_in_repo,
            commit_message=commit_message,
            repo_type="model",
        )
