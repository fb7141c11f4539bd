"""Hub references, offline against a pre-populated local cache (HF_HUB_OFFLINE=1, a temporary
HF_HOME), and push_to_hub against a recording stand-in for the Hub API."""

import json
import shutil
import sys
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from lzn import LZN, cli, hub, presets
from lzn.official import from_official

from .official import synthetic

hf = pytest.importorskip("huggingface_hub")
hf_constants = pytest.importorskip("huggingface_hub.constants")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Hub cache in offline mode; `cache(repo, {path: file})` fills a repository."""
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads both at import; it may be imported already
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)

    def fill(repo_id: str, files: dict[str, Path]) -> None:
        root = home / "hub" / ("models--" + repo_id.replace("/", "--"))
        for path, source in files.items():
            target = root / "snapshots" / COMMIT / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / "main").write_text(COMMIT)

    return fill


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = presets.build("digits-joint", tiny=True).eval()
    return model, model.save_pretrained(tmp_path_factory.mktemp("model"))


def _same_weights(a: LZN, b: LZN) -> None:
    assert a.config == b.config
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka


def test_a_model_folder_at_a_repositorys_root_loads_from_the_cache(cache, saved):
    model, folder = saved
    cache("someone/digits", {f: folder / f for f in ("config.json", "model.safetensors")})
    _same_weights(LZN.from_pretrained("hf://someone/digits"), model)


def test_a_model_folder_inside_a_repository_loads_with_its_bank(cache, saved, tmp_path):
    model, _ = saved
    model.set_bank(torch.rand(30, 1, 8, 8) * 2 - 1, torch.arange(30) % 10, size=20)
    folder = model.save_pretrained(tmp_path / "banked")
    files = {f"models/v1/{f.name}": f for f in folder.iterdir()}
    cache("someone/zoo", files)
    loaded = LZN.from_pretrained("hf://someone/zoo/models/v1")
    _same_weights(loaded, model)
    assert torch.equal(loaded.bank, model.bank)
    model.bank = model.bank_labels = None


def test_an_official_checkpoint_converts_from_the_cache(cache, tmp_path):
    model = synthetic.model("case_study_3")
    path = synthetic.write(model, "case_study_3", tmp_path / "ckpt.pt")
    cache("microsoft/latent-zoning-networks", {"lzn1/case_study_3/000008000-000200000.pt": path})
    reference = "hf://microsoft/latent-zoning-networks/lzn1/case_study_3/000008000-000200000.pt"
    _same_weights(from_official(reference, "case_study_3", ema=False), model)
    out = tmp_path / "converted"
    assert cli.main(["convert", reference, "--case", "case_study_3", "--out", str(out)]) == 0
    _same_weights(LZN.from_pretrained(out), from_official(path, "case_study_3"))


def test_what_the_cache_lacks_offline_is_a_clear_error(cache, capsys):
    with pytest.raises(
        FileNotFoundError, match=r"hf://someone/absent could not be fetched \(offline"
    ):
        LZN.from_pretrained("hf://someone/absent")
    assert cli.main(["sample", "--model", "hf://someone/absent", "--n", "1"]) == 2
    assert "lzn sample: hf://someone/absent could not be fetched" in capsys.readouterr().err


@pytest.mark.parametrize(
    "reference, parsed",
    [
        ("hf://a/b", ("a/b", "", None)),
        ("hf://a/b@v2/x/y.pt", ("a/b", "x/y.pt", "v2")),
        ("hf://a/b/", ("a/b", "", None)),
    ],
)
def test_references_parse(reference, parsed):
    ref = hub.parse(reference)
    assert (ref.repo_id, ref.path, ref.revision) == parsed


@pytest.mark.parametrize("reference", ["hf://a", "hf:///b", "hf://a/b@/x", "a/b"])
def test_malformed_references_are_refused(reference):
    with pytest.raises(ValueError, match=r"reference|REPO"):
        hub.parse(reference)


def test_without_huggingface_hub_the_message_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(hub.MissingHubDependency, match="pip install huggingface_hub"):
        LZN.from_pretrained("hf://a/b")
    assert cli.main(["convert", "hf://a/b/c.pt", "--case", "case_study_2", "--out", "x"]) == 2
    assert "pip install huggingface_hub" in capsys.readouterr().err


class _RecordingApi:
    """Stands in for huggingface_hub.HfApi: records what would be uploaded."""

    calls: ClassVar[list] = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, *, repo_id, folder_path, path_in_repo=None, **kwargs):
        files = {p.name: p.read_bytes() for p in Path(folder_path).iterdir()}
        self.calls.append(("upload_folder", repo_id, path_in_repo, files))
        return "commit"


def _report() -> dict:
    accuracy = {"alpha": 0.0, "batch_size": 100, "bank": "model", "bank_size": 20, "accuracy": 0.9}
    return {
        "model": {"name": "digits-joint", "path": "m"},
        "data": {"name": "digits", "description": "digits held-out split"},
        "seed": 0, "config": {}, "results": {"accuracy": [accuracy]},
        "software": {"lzn": "test"}, "seconds": {"total": 1.0},
    }  # fmt: skip


def test_push_to_hub_uploads_the_model_and_a_card(monkeypatch, saved, tmp_path):
    model, folder = saved
    monkeypatch.setattr(hf, "HfApi", _RecordingApi)
    _RecordingApi.calls = []
    (tmp_path / "report.json").write_text(json.dumps(_report()))
    assert model.push_to_hub("me/digits", report=tmp_path / "report.json", private=True) == "commit"
    (create, repo, options), (upload, repo2, path_in_repo, files) = _RecordingApi.calls
    assert (create, repo) == ("create_repo", "me/digits")
    assert options["private"] is True and options["exist_ok"] is True
    assert (upload, repo2, path_in_repo) == ("upload_folder", "me/digits", None)
    assert set(files) == {"config.json", "model.safetensors", "README.md"}
    assert files["model.safetensors"] == (folder / "model.safetensors").read_bytes()
    card = files["README.md"].decode()
    assert card.startswith("---\nlibrary_name: lzn\n")
    assert "https://arxiv.org/abs/2509.15591" in card and "preset: `digits-joint`" in card
    assert "| 0 | 100 | model (20) | 90.00% |" in card  # the report's numbers
    assert 'LZN.from_pretrained("hf://me/digits")' in card


def test_a_card_without_a_report_says_so(saved):
    model, _ = saved
    assert "No evaluation report was given" in hub.model_card(model)
