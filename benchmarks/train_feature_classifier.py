"""Train the feature classifiers shipped in src/lzn/eval/weights/ (offline FID-style metrics).

    python benchmarks/train_feature_classifier.py                 # all three, on CPU
    python benchmarks/train_feature_classifier.py --data digits --out /tmp/weights

Recipe (fixed; nothing is chosen on the test split): the seeded train split of lzn.eval.datasets
(test_fraction 0.2, seed 0: digits 1438 train / 359 test, MNIST 4000 / 1000); random shifts of
up to 1 pixel (digits) or 2 pixels (MNIST) as augmentation. `mnist-digits` is a digits-sized
classifier that never saw a scikit-learn digit (the scorer of benchmarks that train generators on
digits): all 5000 MNIST images in the digits' format (`lzn.data.mnist.as_digits`), tested on all
1797 scikit-learn digits. AdamW (lr 2e-3, weight decay 1e-4), batch 64, cosine decay; plain
cross-entropy (no label smoothing: the Inception Score assumes confident predictions); 40 epochs
(digits) or 20 (MNIST, mnist-digits); seed 0; one CPU thread (on a shared machine a second thread
only slows these small convolutions down). After training, the feature
layer is rescaled so that the training images' features have root-mean-square 1 per coordinate
(the logits are unchanged), the scale KID's polynomial kernel assumes. The weights are the same
bit for bit on every run on one machine. The test accuracy of the final weights is printed and
stored in the file's metadata with the rest of the recipe.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lzn.eval import classifier, datasets

RECIPES = {
    "digits": {"epochs": 40, "shift": 1},
    "mnist": {"epochs": 20, "shift": 2},
    "mnist-digits": {"epochs": 20, "shift": 1},
}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "lzn" / "eval" / "weights"


def random_shift(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to `shift` pixels (background -1 fills the border)."""
    b, _, h, w = images.shape
    padded = F.pad(images, (shift,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * shift + 1, (2, b), generator=generator).tolist()
    return torch.stack(
        [padded[i, :, y : y + h, x : x + w] for i, (x, y) in enumerate(zip(dx, dy, strict=True))]
    )


def load(name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """Train images and labels, test images and labels, and how they were chosen."""
    if name != "mnist-digits":
        return (*datasets.load(name, seed=0), f"lzn.eval.datasets.load({name!r}, seed=0)")
    from lzn.data import digits, mnist

    x_train, y_train, x_more, y_more = mnist.load(test_fraction=0.2, seed=0)
    x_test, y_test, x_rest, y_rest = digits.load(test_fraction=0.2, seed=0)
    return (
        mnist.as_digits(torch.cat([x_train, x_more])), torch.cat([y_train, y_more]),
        torch.cat([x_test, x_rest]), torch.cat([y_test, y_rest]),
        "train: all 5000 MNIST images as digits (lzn.data.mnist.as_digits); "
        "test: all 1797 scikit-learn digits",
    )  # fmt: skip


def accuracy(model: classifier.DigitClassifier, images, labels) -> float:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat(
            [model(images[i : i + 500]).argmax(1) for i in range(0, len(images), 500)]
        )
    return float((predicted == labels).double().mean())


def train(
    name: str, seed: int = 0, epochs: int | None = None
) -> tuple[classifier.DigitClassifier, dict]:
    recipe = RECIPES[name]
    epochs = epochs or recipe["epochs"]
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x_train, y_train, x_test, y_test, split = load(name)
    model = classifier.DigitClassifier(image_size=x_train.shape[-1], channels=x_train.shape[1])
    batch = 64
    steps = epochs * (len(x_train) // batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order) - batch + 1, batch):
            index = order[i : i + batch]
            images = random_shift(x_train[index], recipe["shift"], generator)
            loss = F.cross_entropy(model(images), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    seconds = time.perf_counter() - start
    scale = classifier.normalise_feature_scale(model, x_train)
    info = {
        "data": name,
        "split": split,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_accuracy": accuracy(model, x_train, y_train),
        "feature_scale": scale,
        "epochs": epochs,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "command": f"python benchmarks/train_feature_classifier.py --data {name} --seed {seed}",
        "torch": torch.__version__,
        "machine": f"{platform.platform()}, {torch.get_num_threads()} torch thread(s)",
    }
    return model.eval(), info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=[*RECIPES, "all"], default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in RECIPES if args.data == "all" else [args.data]:
        model, info = train(name, args.seed, args.epochs)
        path = args.out / f"{name}-classifier.safetensors"
        classifier.save(model, path, training=info)
        path.chmod(0o644)  # safetensors writes 0600; the file ships in the package
        print(
            f"{name}: test accuracy {info['test_accuracy']:.2%} ({info['test_images']} images), "
            f"train {info['train_accuracy']:.2%}, {info['train_seconds']:.0f} s -> {path}"
        )


if __name__ == "__main__":
    main()
