"""Exponential moving average of a model's parameters, as the official code keeps it.

The decay warms up as min(decay, (1 + n) / (10 + n)) after n updates, so early averages are not
dominated by the random initialisation (with the paper's 0.999999 this schedule is all there is).

Only parameters that train are averaged: one with `requires_grad` False (a part frozen after its
iteration budget, case study 3's decoder) keeps the average it had when it was frozen, as the
official code updates a part's EMA only while the part trains. Averaging it further would only
pull it towards the frozen raw weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class EMA:
    def __init__(self, module: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow = {k: p.detach().clone() for k, p in module.named_parameters()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Average in the module's current weights, those that train (`requires_grad`) only."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, p in module.named_parameters():
            if not p.requires_grad:  # frozen: its average stays what it was at the freeze
                continue
            if self.shadow[k].device != p.device:  # the module moved (e.g. to the GPU) after init
                self.shadow[k] = self.shadow[k].to(p.device)
            self.shadow[k].lerp_(p.detach(), 1.0 - decay)

    @contextlib.contextmanager
    def applied(self, module: nn.Module) -> Iterator[nn.Module]:
        """Inside the context the module carries the averaged weights; restored on exit."""
        live = {k: p.detach().clone() for k, p in module.named_parameters()}
        self.copy_to(module)
        try:
            yield module
        finally:
            with torch.no_grad():
                for k, p in module.named_parameters():
                    p.copy_(live[k])

    @torch.no_grad()
    def copy_to(self, module: nn.Module) -> None:
        for k, p in module.named_parameters():
            p.copy_(self.shadow[k])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = state["decay"], state["updates"]
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}
