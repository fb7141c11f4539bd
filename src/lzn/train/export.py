"""The model folder a training run leaves: EMA weights, the anchor bank, the training data.

`export(module, data, directory)` writes `LZN.save_pretrained` of the module's EMA weights with
two things a saved model needs to be used alone: its anchor bank (`lzn.bank`: anchors of up to
2000 class-balanced training images, encoded with the EMA weights) and the record of the data
and held-out split it was trained on (`LZNData.training_data`), which `lzn evaluate` checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset, TensorDataset

from lzn import bank as anchor_banks


def dataset_labels(dataset: Dataset) -> torch.Tensor | None:
    """The labels (n,) of a training set without loading its images, or None where it has none
    (labels of -1 mean none)."""
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) > 1:
        labels = dataset.tensors[1]
    else:
        labels = getattr(dataset, "targets", None)
        labels = getattr(dataset, "labels", None) if labels is None else labels
    if labels is None:
        return None
    labels = torch.as_tensor(labels).long()
    return None if labels.ndim != 1 or bool((labels < 0).any()) else labels


def bank_images(dataset: Dataset, seed: int = 0, size: int = anchor_banks.DEFAULT_SIZE):
    """Images (k, c, s, s) and labels (k,) or None of the bank's share of a training set."""
    from lzn.data.views import CroppedPairs

    if isinstance(dataset, CroppedPairs):  # items are two views: take the centre-cropped images
        dataset = dataset.folder
    labels = dataset_labels(dataset)
    index = anchor_banks.select(len(dataset), labels, size, seed)
    images = torch.stack([dataset[i][0] for i in index.tolist()])
    return images, None if labels is None else labels[index]


def export(module, data, directory: str | os.PathLike) -> Path:
    """Save the module's EMA model with its bank and training-data record into `directory`."""
    model = module.model
    dataset = getattr(data, "train", None)  # an LZNData after setup; other data modules: none
    with module.ema.applied(model):
        try:
            if dataset is not None:
                images, labels = bank_images(dataset)  # the bank's share, loaded alone
                model.set_bank(images.to(module.device), labels)  # keeps all: <= DEFAULT_SIZE
            record = getattr(data, "training_data", None)
            model.training_data = record() if record is not None else None
            return model.save_pretrained(directory)
        finally:  # the bank belongs to the EMA weights, not to the live ones
            model.bank = model.bank_labels = None
