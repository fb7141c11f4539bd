"""`lzn evaluate` end to end on the data sets read from a data_root: CIFAR-10 (official binary
files, in memory), ImageNet (train/val class folders, streamed) and a folder of images (streamed,
no test split). Everything is fake, written into tmp_path: offline, CPU, a few seconds."""

import argparse
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from lzn import LZN, cli, presets
from lzn.data import cifar10
from lzn.data.imagenet import ImageNet
from lzn.eval import command, sources
from lzn.eval.datasets import evaluation_split
from lzn.eval.representation import knn
from lzn.eval.sections.context import EvaluationContext

RECORDS = 20  # per fake CIFAR-10 batch file: 100 train / 20 test images
WNIDS = ("n01440764", "n01443537", "n01484850")
COLOURS = ((220, 40, 40), (40, 200, 60), (50, 60, 220))  # one per class: a probe can separate them
TRAIN_PER_CLASS, VAL_PER_CLASS = 4, 2


@pytest.fixture(autouse=True)
def _small_cifar(monkeypatch, tmp_path):
    monkeypatch.setattr(cifar10, "RECORDS_PER_FILE", RECORDS)
    monkeypatch.setenv("LZN_CACHE", str(tmp_path / "cache"))


def parse(argv):
    parser = argparse.ArgumentParser(prog="lzn")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def evaluate(model, tmp_path, text, name="out"):
    """Run `lzn evaluate` as the command does; (exit code, report.json, out folder)."""
    config, out = tmp_path / f"{name}.yaml", tmp_path / name
    config.write_text(text)
    args = parse(["evaluate", "--model", str(model), "--config", str(config), "--out", str(out)])
    code = args.run(args)
    return code, json.loads((out / "report.json").read_text()), out


def refused(model, tmp_path, text, capsys):
    """`lzn evaluate` through the CLI's entry point: (exit code, stderr), nothing written."""
    (tmp_path / "refused.yaml").write_text(text)
    out = tmp_path / "refused"
    argv = ["evaluate", "--model", str(model), "--config", str(tmp_path / "refused.yaml")]
    code = cli.main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert not out.exists()  # refused before any work
    assert err.startswith("lzn evaluate: ") and err.count("\n") == 1  # in one line
    return code, err


# --- fake data ------------------------------------------------------------------------------


def write_cifar10(root, seed=0):
    """Every binary batch file of both splits; returns the (uint8 images, labels) of each split."""
    rng = np.random.default_rng(seed)
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True)
    splits = {}
    for split, names in cifar10.FILES.items():
        parts = []
        for name in names:
            pixels = rng.integers(0, 256, (RECORDS, 3, 32, 32), dtype=np.uint8)
            labels = rng.integers(0, 10, RECORDS, dtype=np.uint8)
            records = np.concatenate([labels[:, None], pixels.reshape(RECORDS, -1)], axis=1)
            (folder / name).write_bytes(records.tobytes())
            parts.append((pixels, labels))
        splits[split] = (
            torch.from_numpy(np.concatenate([p for p, _ in parts])),
            torch.from_numpy(np.concatenate([y for _, y in parts])).long(),
        )
    return splits


def write_png(path, colour, rng, size=(40, 36)):
    """A `size` (w, h) image of `colour` with a little noise: every file differs."""
    w, h = size
    pixels = np.asarray(colour, dtype=np.int64) + rng.integers(-20, 21, (h, w, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path)


def write_imagenet(root):
    rng = np.random.default_rng(1)
    for split, n in (("train", TRAIN_PER_CLASS), ("val", VAL_PER_CLASS)):
        for wnid, colour in zip(WNIDS, COLOURS, strict=True):
            for i in range(n):
                write_png(root / split / wnid / f"{wnid}_{i}.png", colour, rng)
    return root


def write_folder(root, n=12, seed=2):
    rng = np.random.default_rng(seed)
    for i in range(n):
        write_png(root / f"{i:03d}.png", rng.integers(0, 256, 3), rng, size=(40 + i, 36))
    return root


# --- models ---------------------------------------------------------------------------------


def save(name, folder, record):
    model = presets.build(name, tiny=True).eval()
    model.training_data = record
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def joint(tmp_path_factory):
    """A tiny cifar10-joint model (32x32x3, image and label) trained on CIFAR-10, by its record."""
    return save("cifar10-joint", tmp_path_factory.mktemp("joint"), {"data": "cifar10"})


@pytest.fixture(scope="module")
def representation(tmp_path_factory):
    """A tiny imagenet-representation model (224x224x3, encoder only) trained on ImageNet."""
    folder = tmp_path_factory.mktemp("representation")
    return save("imagenet-representation", folder, {"data": "imagenet"})


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    """A tiny unconditional cifar10-generation model (32x32x3) with no record."""
    return save("cifar10-generation", tmp_path_factory.mktemp("generation"), None)


# --- CIFAR-10 -------------------------------------------------------------------------------

CIFAR10 = """
data: cifar10
data_root: {root}
features: pixels
generation:
  metrics: [kid, precision_recall]
  samples: 12
  steps: [1, 2]
  batch_size: 50
  kid: {{subsets: 3}}
  grid: 8
accuracy: {{bank: [train, none], alphas: [0.0], batch_sizes: [null, 8]}}
reconstruction: {{images: 4, repeats: 1, sampler: euler, steps: 2}}
linear_probe: {{weight_decays: [0.01]}}
knn: {{k: [1, 5]}}
"""


def test_cifar10_every_section_on_the_official_split(joint, tmp_path):
    splits = write_cifar10(tmp_path / "cifar")
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    code, report, out = evaluate(joint, tmp_path, CIFAR10.format(root=tmp_path / "cifar"))
    assert code == 0
    data = report["data"]
    assert data["name"] == "cifar10" and (data["train"], data["test"]) == (100, 20)
    assert data["split"]["source"] == "the data set's own split" and data["split"]["checked"]
    assert data["split"]["test_fraction"] is None and data["split"]["seed"] is None
    results = report["results"]
    gen = results["generation"]
    assert [r["steps"] for r in gen["runs"]] == [1, 2]
    assert all(r["samples"] == 12 and r["conditional"] for r in gen["runs"])
    assert gen["reference"]["description"].startswith("100 images: cifar10 train")
    assert "the official split" in gen["reference"]["description"]
    assert gen["held_out_real"]["samples"] == 20  # the whole fake test split
    assert gen["held_out_real"]["kid"]["subset_size"] == 20
    assert report["features"]["name"] == "pixels"
    # Accuracy on the 20 test images, with a bank of the 100 train images' anchors and without.
    rows = results["accuracy"]
    assert [(r["batch_size"], r["bank_size"]) for r in rows] == [
        (20, 100),
        (8, 100),
        (20, 0),
        (8, 0),
    ]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert results["reconstruction"]["images"] == 4
    assert results["linear_probe"]["weight_decay"] == 0.01
    assert 0.0 <= results["linear_probe"]["top1"] <= results["linear_probe"]["top5"] <= 1.0
    # The kNN numbers are those of the model's features of the files' very images and labels.
    model = LZN.from_pretrained(joint).eval()
    with torch.no_grad():
        f_train = model.embed(x_train.float() / 127.5 - 1.0)
        f_test = model.embed(x_test.float() / 127.5 - 1.0)
    want = knn(f_train, y_train, f_test, y_test, k=[1, 5])
    for k in ("k=1", "k=5"):
        assert results["knn"][k] == pytest.approx(want[k])
    markdown = (out / "report.md").read_text()
    assert "on cifar10" in markdown and "100 train / 20 test" in markdown


def test_cifar10_for_a_model_without_a_record(tmp_path):
    write_cifar10(tmp_path / "cifar")
    folder = save("cifar10-joint", tmp_path / "model", None)
    text = f"data: cifar10\ndata_root: {tmp_path / 'cifar'}\nknn: {{k: [1]}}\n"
    code, report, _ = evaluate(folder, tmp_path, text)
    assert code == 0 and (report["data"]["train"], report["data"]["test"]) == (100, 20)
    # Nothing to check on a fixed split but the data set, which the model does not record.
    assert report["data"]["split"]["checked"] is False
    assert report["data"]["split"]["source"] == "the data set's own split"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("data: cifar10\nsplit_seed: 1", "cifar10 has its own split .*: leave split_seed out"),
        ("data: cifar10\ntest_fraction: 0.3", "leave test_fraction out"),
        ("data: digits", "the model was trained on cifar10; the config asks for data digits"),
    ],
)
def test_cifar10_a_split_or_data_set_other_than_the_models_is_refused(
    joint, tmp_path, capsys, setting, message
):
    write_cifar10(tmp_path / "cifar")
    text = f"{setting}\ndata_root: {tmp_path / 'cifar'}\nknn: {{}}\n"
    code, err = refused(joint, tmp_path, text, capsys)
    assert code == 2 and re.search(message, err)


def test_features_without_a_shipped_classifier_are_refused_before_the_data_is_read(
    joint, tmp_path, capsys
):
    # data_root does not exist: the refusal must come first, not after loading or downloading.
    text = f"data: cifar10\ndata_root: {tmp_path / 'nowhere'}\ngeneration: {{samples: 4}}\n"
    code, err = refused(joint, tmp_path, text, capsys)
    assert code == 2 and "no shipped classifier for 'cifar10'" in err


def test_inception_features_without_their_dependency_or_weights_are_refused_first(
    joint, tmp_path, capsys
):
    text = (
        f"data: cifar10\ndata_root: {tmp_path / 'nowhere'}\nfeatures: inception\n"
        f"inception_weights: {tmp_path / 'missing.pth'}\ngeneration: {{samples: 4}}\n"
    )
    code, err = refused(joint, tmp_path, text, capsys)
    assert code == 2 and re.search(r"need torch-fidelity|missing\.pth does not exist", err)


def test_a_failed_download_is_one_line(joint, tmp_path, capsys, monkeypatch):
    from urllib.error import URLError

    def offline(url, timeout=None):
        raise URLError("no network")

    monkeypatch.setattr(cifar10, "urlopen", offline)
    text = f"data: cifar10\ndata_root: {tmp_path / 'new'}\ndownload: true\nknn: {{}}\n"
    code, err = refused(joint, tmp_path, text, capsys)
    assert code == 2 and "could not download" in err
    assert not (tmp_path / "new").exists()  # no empty data_root left behind


# --- ImageNet -------------------------------------------------------------------------------


def test_imagenet_streamed_augmented_probe_and_knn(representation, tmp_path):
    root = write_imagenet(tmp_path / "imagenet")
    text = (
        f"data_root: {root}\nworkers: 0\n"
        "linear_probe: {augment: true, epochs: 2, batch_size: 4, crop_scale: [0.5, 1.0]}\n"
        "knn: {k: [1]}\n"
    )
    code, report, out = evaluate(representation, tmp_path, text)
    assert code == 0
    data = report["data"]
    n_train, n_test = len(WNIDS) * TRAIN_PER_CLASS, len(WNIDS) * VAL_PER_CLASS
    assert data["name"] == "imagenet" and (data["train"], data["test"]) == (n_train, n_test)
    assert data["split"]["checked"] is True
    probe = report["results"]["linear_probe"]
    assert (probe["train_samples"], probe["test_samples"]) == (n_train, n_test)
    assert probe["epochs"] == 2 and probe["batch_size"] == 4 and probe["crop_scale"] == [0.5, 1.0]
    assert probe["flip"] is True  # natural images: the paper's flips
    assert 0.0 <= probe["top1"] <= probe["top5"] <= 1.0
    assert 0.0 <= report["results"]["knn"]["k=1"]["top1"] <= 1.0
    assert "linear probe, augmented (crop area 0.5-1, flips" in (out / "report.md").read_text()


def test_imagenet_frozen_features_are_those_of_the_imagenet_dataset(
    representation, tmp_path, monkeypatch
):
    root = write_imagenet(tmp_path / "imagenet")
    used = []
    frozen = EvaluationContext.frozen_features

    def spy(self):
        used.append(frozen(self))
        return used[-1]

    monkeypatch.setattr(EvaluationContext, "frozen_features", spy)
    text = (
        f"data_root: {root}\nworkers: 0\nlinear_probe: {{weight_decays: [0.01]}}\nknn: {{k: [1]}}\n"
    )
    code, report, _ = evaluate(representation, tmp_path, text)
    assert code == 0
    f_train, f_test = used[0]
    assert len(used) == 2 and used[1] is used[0]  # computed once, for both sections

    model = LZN.from_pretrained(representation).eval()
    size = model.config["image"]["size"]
    expected = []
    for split in ("train", "val"):
        dataset = ImageNet(root, split, size=size, resize=round(size * 256 / 224))
        images = torch.stack([dataset[i][0] for i in range(len(dataset))])
        with torch.no_grad():
            expected.append((model.embed(images), dataset.targets))
    (want_train, y_train), (want_test, y_test) = expected
    torch.testing.assert_close(f_train, want_train)
    torch.testing.assert_close(f_test, want_test)
    assert y_train.tolist() == [c for c in range(len(WNIDS)) for _ in range(TRAIN_PER_CLASS)]
    # The data the command opens is that dataset, image for image, in the same order.
    split = evaluation_split(model.training_data)
    train, test = sources.open_data(split, root, size=size, channels=3, workers=0)
    for opened, (want, labels) in zip((train, test), expected, strict=True):
        assert torch.equal(opened.labels, labels)
        with torch.no_grad():
            torch.testing.assert_close(model.embed(torch.cat(list(opened.batches(5)))), want)
    # Labels are right: each class has its own colour, so the nearest train image is of its class
    # and the probe separates the classes.
    results = report["results"]
    assert results["knn"]["k=1"]["top1"] == 1.0
    assert results["linear_probe"]["top1"] == 1.0
    assert results["knn"]["k=1"] == pytest.approx(
        knn(want_train, y_train, want_test, y_test, k=1)["k=1"]
    )


def test_imagenet_refuses_what_streamed_data_or_the_model_cannot_do(
    representation, tmp_path, capsys
):
    root = write_imagenet(tmp_path / "imagenet")
    # Accuracy needs the whole splits in memory (a model with labels, or it would be refused
    # for lacking them first).
    joint = save("cifar10-joint", tmp_path / "joint", None)
    text = f"data: imagenet\ndata_root: {root}\nworkers: 0\naccuracy: {{bank: none}}\n"
    code, err = refused(joint, tmp_path, text, capsys)
    assert code == 2 and "accuracy needs the whole splits in memory" in err and "streamed" in err
    # Generation needs a decoder, which a representation model lacks.
    text = f"data_root: {root}\nfeatures: pixels\ngeneration: {{samples: 4}}\n"
    code, err = refused(representation, tmp_path, text, capsys)
    assert code == 2 and "generation metrics need an image decoder" in err


# --- a folder of images ---------------------------------------------------------------------

FOLDER = """
data: folder
data_root: {root}
workers: 0
features: pixels
generation:
  metrics: [kid, precision_recall]
  samples: 6
  steps: [1]
  batch_size: 8
  kid: {{subsets: 2}}
  grid: 4
"""


def test_folder_generation_has_no_held_out_floor(generator, tmp_path):
    root = write_folder(tmp_path / "images")
    code, report, out = evaluate(generator, tmp_path, FOLDER.format(root=root))
    assert code == 0
    assert report["data"]["name"] == "folder"
    assert (report["data"]["train"], report["data"]["test"]) == (12, 0)
    gen = report["results"]["generation"]
    assert gen["held_out_real"] is None
    assert gen["runs"][0]["samples"] == 6 and gen["runs"][0]["conditional"] is False
    assert str(root) in gen["reference"]["description"]
    assert gen["reference"]["description"].startswith("12 images: image folder")
    markdown = (out / "report.md").read_text()
    assert "held-out real" not in markdown and "## Generation" in markdown
    assert (out / "samples.png").stat().st_size > 0


def test_folder_refusals(generator, joint, tmp_path, capsys):
    root = write_folder(tmp_path / "images")
    code, err = refused(joint, tmp_path, f"data: folder\ndata_root: {root}\nknn: {{}}\n", capsys)
    # The joint model records cifar10: asking for a folder is refused first; without a record
    # the folder is opened and knn refused, since a folder has no test split.
    assert code == 2 and "the config asks for data folder" in err
    unrecorded = save("cifar10-joint", tmp_path / "unrecorded", None)
    for section in ("knn: {}", "linear_probe: {}", "accuracy: {bank: none}"):
        text = f"data: folder\ndata_root: {root}\nworkers: 0\n{section}\n"
        code, err = refused(unrecorded, tmp_path, text, capsys)
        assert code == 2 and "needs a test split" in err, section
    text = "data: folder\nfeatures: pixels\ngeneration: {samples: 4}\n"
    code, err = refused(generator, tmp_path, text, capsys)
    assert code == 2 and "data: folder needs data_root" in err
    missing = tmp_path / "nowhere"
    text = f"data: folder\ndata_root: {missing}\nfeatures: pixels\ngeneration: {{samples: 4}}\n"
    code, err = refused(generator, tmp_path, text, capsys)
    assert code == 2 and f"data_root {missing} does not exist" in err
    # A class-conditional model needs the images' labels: a folder without class folders has
    # none, and that is said before the reference features are computed.
    for section, message in [
        ("generation: {samples: 4}", "class-conditional generation draws labels"),
        ("reconstruction: {images: 2}", "reconstruction with a class-conditional decoder"),
    ]:
        text = f"data: folder\ndata_root: {root}\nworkers: 0\nfeatures: pixels\n{section}\n"
        code, err = refused(unrecorded, tmp_path, text, capsys)
        assert code == 2 and message in err and f"image folder {root} has no" in err
    assert not (tmp_path / "cache").exists()


def test_folder_reference_features_are_cached_per_folder(generator, tmp_path):
    text = FOLDER + "cache_dir: {cache}\n"
    caches = []
    for name in ("a", "b", "a"):
        root = tmp_path / name
        if not root.exists():
            write_folder(root, seed=ord(name))
        code, report, _ = evaluate(
            generator,
            tmp_path,
            text.format(root=root, cache=tmp_path / "c"),
            name=f"out-{len(caches)}",
        )
        assert code == 0
        caches.append(report["results"]["generation"])
    paths = [gen["reference"]["cache"] for gen in caches]
    assert paths[0] != paths[1] and paths[0] == paths[2]
    assert "-32px-3ch-" in paths[0]  # a grey model at this size reads other images
    assert sorted(str(p) for p in (tmp_path / "c").glob("*.npz")) == sorted(paths[:2])
    # Folder a's cached features give a's numbers again; folder b's images give others.
    assert caches[2]["runs"][0]["kid"] == caches[0]["runs"][0]["kid"]
    assert caches[1]["runs"][0]["kid"] != caches[0]["runs"][0]["kid"]
