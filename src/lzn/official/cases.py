"""The six released checkpoints of the paper (huggingface.co/microsoft/latent-zoning-networks,
`lzn1/<case>/<file>`), each with its `lzn` preset and the facts of its official configuration
that the tensors' shapes do not tell.

A case is named by its official folder name (`case_study_1_cifar10`) or by its preset
(`cifar10-generation`): `case("cifar10-generation") is case("case_study_1_cifar10")`.
"""

from __future__ import annotations

from dataclasses import dataclass

HUB_REPO = "microsoft/latent-zoning-networks"


@dataclass(frozen=True)
class Sigmas:
    """The unused `sigmas` buffer of the official NCSN++ decoder: a geometric sequence from
    `maximum` down to `minimum` in `count` float64 values (kept only to export exactly)."""

    maximum: float
    minimum: float
    count: int


@dataclass(frozen=True)
class OfficialCase:
    name: str  # the official config and Hub folder name
    preset: str  # the lzn preset with the same architecture
    released_file: str  # the checkpoint file on the Hub
    parts: tuple[str, ...]  # the networks the checkpoint holds, in its key order
    sigmas: Sigmas | None = None  # the decoder's buffer (NCSN++ cases)
    resnet_groups: int = 32  # GroupNorm groups of the official ResNet and head (case 2)
    # The data set it was trained on, as lzn evaluate names it (its training_data record); the
    # 256x256 folders are not named: a folder's record could not be checked.
    data: str | None = None

    @property
    def hub_path(self) -> str:
        return f"lzn1/{self.name}/{self.released_file}"

    @property
    def hub_reference(self) -> str:
        return f"hf://{HUB_REPO}/{self.hub_path}"


_CIFAR_SIGMAS = Sigmas(maximum=50.0, minimum=0.01, count=1000)
_HIGH_RES_SIGMAS = Sigmas(maximum=378.0, minimum=0.01, count=2000)
_GENERATION = ("encoder", "decoder")

CASES = (
    OfficialCase(
        "case_study_1_cifar10", "cifar10-generation", "000002000-000050000.pt", _GENERATION,
        _CIFAR_SIGMAS, data="cifar10",
    ),
    OfficialCase(
        "case_study_1_afhqcat", "afhq-cat-generation", "000003000-000060000.pt", _GENERATION,
        _HIGH_RES_SIGMAS,
    ),
    OfficialCase(
        "case_study_1_celebahq", "celebahq-generation", "000002991-000350000.pt", _GENERATION,
        _HIGH_RES_SIGMAS,
    ),
    OfficialCase(
        "case_study_1_lsunbedroom", "lsun-bedroom-generation", "000000173-002050000.pt",
        _GENERATION, _HIGH_RES_SIGMAS,
    ),
    OfficialCase(
        "case_study_2", "imagenet-representation", "000032051-005000000.pt", ("encoder",),
        data="imagenet",
    ),
    OfficialCase(
        "case_study_3", "cifar10-joint", "000008000-000200000.pt",
        ("encoder", "decoder", "label_anchor"), _CIFAR_SIGMAS, data="cifar10",
    ),
)  # fmt: skip

_BY_NAME = {name: c for c in CASES for name in (c.name, c.preset)}


def names() -> list[str]:
    return [c.name for c in CASES]


def case(name: str | OfficialCase) -> OfficialCase:
    """The case `name` names (official folder name or lzn preset); a ValueError lists them."""
    if isinstance(name, OfficialCase):
        return name
    if name not in _BY_NAME:
        listed = ", ".join(f"{c.name} ({c.preset})" for c in CASES)
        raise ValueError(f"unknown official case {name!r}; the cases are: {listed}")
    return _BY_NAME[name]
