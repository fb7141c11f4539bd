import io
import sys

import torch

from lzn.eval import (
    accuracy_grid,
    augmented_linear_probe,
    extract,
    features,
    linear_probe,
    reconstruction_error,
)
from lzn.progress import Section, bar


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws its bars."""

    def isatty(self):
        return True


def as_terminal(monkeypatch):
    # In the test body: pytest's capture re-installs its own stderr after fixtures run.
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


def test_a_bar_shows_its_total_on_a_terminal_and_nothing_when_disabled(monkeypatch):
    terminal = as_terminal(monkeypatch)
    with bar(40, "work", enabled=True, unit="image") as b:
        b.update(40)
    assert "work" in terminal.getvalue() and "0/40" in terminal.getvalue()
    terminal.seek(0), terminal.truncate()
    with bar(40, "quiet", enabled=False) as b:
        b.update(40)
    assert terminal.getvalue() == ""


def test_bars_stay_off_when_stderr_is_not_a_terminal(capsys):
    with bar(10, "logged", enabled=True) as b:
        b.update(10)
    assert capsys.readouterr().err == ""  # a log gets no carriage-return noise


def test_a_section_says_when_it_starts_and_how_long_it_took(capsys):
    with Section("accuracy", "3 alphas", prefix="lzn evaluate: ") as s:
        pass
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "lzn evaluate: accuracy: 3 alphas"
    assert err[1] == f"lzn evaluate: accuracy done in {s.seconds:.1f} s"
    with Section("quiet", enabled=False):
        pass
    assert capsys.readouterr().err == ""


class Stub:
    """Classifies by pixel (0, 0); reconstructs exactly."""

    def classify(self, images, *, alpha, bank, generator):
        return images[:, 0, 0, 0].long()

    def reconstruct(self, images, *, labels, sampler, steps, bank, generator):
        return images


def run_all(progress):
    images, labels = torch.zeros(30, 1, 2, 2), torch.zeros(30, dtype=torch.long)
    extract(features.pixels(), images, batch_size=7, progress=progress)
    accuracy_grid(Stub(), images, labels, alphas=(0.0, 1.0), batch_sizes=(10,), progress=progress)
    reconstruction_error(Stub(), images, repeats=2, batch_size=10, progress=progress)
    x = torch.randn(40, 3)
    y = torch.arange(40) % 2
    linear_probe(x, y, x, y, weight_decays=(0.1,), max_iter=5, progress=progress)
    flat = lambda images: images.flatten(1)  # noqa: E731
    augmented_linear_probe(flat, images, labels, images, labels, epochs=2, progress=progress)


def test_the_library_is_quiet_unless_asked(monkeypatch):
    terminal = as_terminal(monkeypatch)
    run_all(progress=False)
    assert terminal.getvalue() == ""
    run_all(progress=True)
    shown = terminal.getvalue()
    # One bar per phase, each with its total: 30 images; 2 alphas x 30; 2 draws x 30; 2 fits.
    assert "features:   0%|          | 0/30 " in shown
    assert "accuracy, bank: none (the model carries no bank):   0%|          | 0/60 " in shown
    assert "reconstruction:   0%|          | 0/60 " in shown
    assert "linear probe (L-BFGS fits):   0%|          | 0/2 " in shown
    assert "linear probe (augmented):   0%|          | 0/2 " in shown
