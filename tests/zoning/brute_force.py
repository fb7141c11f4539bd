"""A float64 brute force of the latent flow (paper section 2.2; t = 0 the Gaussian, t = 1 the
anchors), written independently of lzn.zoning.

It materialises every difference s_i - t a_j, so it is exact and slow: a yardstick, not a method.
"""

from __future__ import annotations

import torch


def posterior_weights(s, anchors, t, weights=None):
    """w_ij = softmax_j(-||s_i - t a_j||^2 / (2 (1-t)^2) + log pi_j), (m, n)."""
    diff = s[:, None, :] - t * anchors[None, :, :]
    logits = -(diff**2).sum(-1) / (2 * (1 - t) ** 2)
    if weights is not None:
        logits = logits + torch.log(weights)[None, :]
    return torch.softmax(logits, dim=1)


def velocity(s, anchors, t, weights=None):
    w = posterior_weights(s, anchors, t, weights)
    return (w @ anchors - s) / (1 - t)


def latents(anchors, noise, *, alpha=1.0, g=1e-3, steps=20, weights=None, index=None):
    anchors, noise = anchors.double(), noise.double()
    index = torch.arange(anchors.shape[0]) if index is None else index
    s = (1 - g) * anchors[index] + g * alpha * noise
    for k in range(steps):
        t0 = (1 - g) * (1 - k / steps)
        t1 = (1 - g) * (1 - (k + 1) / steps)
        s = s + (t1 - t0) * velocity(s, anchors, t0, weights)
    return s


def forward_flow(latents, anchors, targets=None, *, steps=20, weights=None):
    """End points and, with targets, P(a_target | s_t) at t = k / steps, k = 0..steps-1."""
    s, anchors = latents.double(), anchors.double()
    probs = []
    for k in range(steps):
        t = k / steps
        if targets is not None:
            probs.append(posterior_weights(s, anchors, t, weights)[torch.arange(len(s)), targets])
        s = s + velocity(s, anchors, t, weights) / steps
    return s, (torch.stack(probs) if targets is not None else None)


def alignment_loss(latents, anchors, targets, *, steps=20, cutoff=0.2, log=False, weights=None):
    _, probs = forward_flow(latents, anchors, targets, steps=steps, weights=weights)
    best = probs[int(steps * cutoff) :].max(0).values
    return -(best.log() if log else best).mean()
