"""The LZN object: modalities composed into the tasks of the paper's Fig. 1.

    model.encode(images)        image encoder                      -> anchors (b, q)
    model.latents(images)       image encoder + latent computation -> latents (b, q)
    model.embed(images)         image encoder                      -> features (b, d)
    model.generate(n, labels)   (label encoder +) image decoder    -> images in [-1, 1]
    model.classify(images)      image encoder + label decoder      -> labels (b,)
    model.reconstruct(images)   image encoder + decoder inverse and forward -> images

Latents are batch-dependent: a sample's zone is cut by all anchors of its batch, so `latents`,
`classify` and `reconstruct` change with the batch they are given. `bank=` adds the anchors of a
fixed reference set, so that results do not drift with the evaluation batch. A trained model
carries such a bank (`model.bank`, anchors of its training images, `lzn.bank`), and `classify`
uses it by default: one image is classified as it would be in a large batch.

Weights are saved as `config.json` (the architecture, `lzn.config`; `training_data`: the data and
split the model was trained on, when known; the class path and `init_args` of modalities added
with `add_modality`), `model.safetensors` and `bank.safetensors` (tensors only): loading never
unpickles, so it never runs code from the files. It imports the modules that config.json names
(a backbone's or an added modality's class), as building from the config does.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor, nn

import lzn
from lzn import atomic, rng
from lzn import bank as anchor_banks
from lzn.class_path import import_class, path_of
from lzn.config import (
    EncoderConfig,
    ImageConfig,
    ModelConfig,
    ResNetEncoderConfig,
    UNetEncoderConfig,
)
from lzn.modalities import rectified_flow as rf
from lzn.modalities.base import Modality
from lzn.modalities.image import ImageModality
from lzn.modalities.label import LabelModality
from lzn.nets.backbone import BackboneEncoder, build_backbone
from lzn.nets.ncsnpp import UNetDecoder, UNetEncoder
from lzn.nets.resnet import ResNetEncoder
from lzn.progress import TimeBar

FORMAT = "lzn-model"
ADDED_MODALITIES = "added_modalities"  # config.json key: {name: {class_path, init_args}}
CONFIG_FILE, WEIGHTS_FILE, BANK_FILE = "config.json", "model.safetensors", "bank.safetensors"
MODEL_BANK = anchor_banks.MODEL_BANK


def _image_encoder(encoder: EncoderConfig, latent_dim: int) -> nn.Module:
    if isinstance(encoder, UNetEncoderConfig):
        return UNetEncoder(encoder.unet, latent_dim, encoder.head)
    if isinstance(encoder, ResNetEncoderConfig):
        return ResNetEncoder(encoder.resnet, latent_dim)
    backbone = build_backbone(encoder.backbone)  # the user's network (lzn.nets.backbone)
    return BackboneEncoder(backbone, encoder.feature_dim, latent_dim, encoder.head)


def _image_modality(image: ImageConfig, latent_dim: int, num_classes: int) -> ImageModality:
    encoder = _image_encoder(image.encoder, latent_dim)  # first: seeded weights stay the same
    dec = image.decoder
    decoder_classes = num_classes if dec and dec.label_input else 0
    decoder = None
    if dec is not None:
        decoder_latent = latent_dim if dec.latent_input else 0
        decoder = UNetDecoder(dec.unet, decoder_latent, decoder_classes)
    return ImageModality(
        encoder,
        decoder,
        image_size=image.size,
        channels=image.channels,
        latent_dim=latent_dim,
        num_classes=decoder_classes,
        flow=image.flow,
    )


class LZN(nn.Module):
    def __init__(self, config: ModelConfig | dict):
        """config: a `ModelConfig`, or its JSON form (what `presets.config` gives and
        config.json holds), checked key by key."""
        super().__init__()
        if isinstance(config, ModelConfig):
            config = config.to_dict()  # checked as a dict is: dataclasses do not check types
        config = ModelConfig.from_dict(config)
        self._built_from = config  # the flows in it are the modalities' from here on
        self.latent_dim = config.latent_dim
        label = config.label
        num_classes = label.num_classes if label else 0
        self.modalities = nn.ModuleDict(
            {"image": _image_modality(config.image, self.latent_dim, num_classes)}
        )
        if label:
            self.modalities["label"] = LabelModality(
                num_classes, self.latent_dim, flow=label.flow, cutoff=label.cutoff
            )
        # Anchors (k, q) and labels (k,) of a fixed set of training images (`set_bank`).
        self.bank: Tensor | None = None
        self.bank_labels: Tensor | None = None
        # The data set and held-out split the weights were trained on, e.g. {"data": "digits",
        # "test_fraction": 0.2, "seed": 0}, so that evaluation can refuse overlapping test data.
        self.training_data: dict | None = None

    @property
    def settings(self) -> ModelConfig:
        """The typed configuration of the model as it runs: the one it was built from, with
        the latent-flow settings its modalities hold now."""
        built = self._built_from
        image = replace(built.image, flow=self.image.flow)
        label = built.label and replace(built.label, flow=self.label.flow, cutoff=self.label.cutoff)
        return replace(built, image=image, label=label)

    @property
    def config(self) -> dict:
        """`settings` in its JSON form (what config.json holds); modalities added with
        `add_modality` are stored beside it."""
        return self.settings.to_dict()

    @property
    def image(self) -> ImageModality:
        return self.modalities["image"]

    @property
    def label(self) -> LabelModality | None:
        return self.modalities["label"] if "label" in self.modalities else None

    def add_modality(self, modality: Modality) -> None:
        """Compose a new data type with this model's (its anchors live in the same space)."""
        if modality.latent_dim != self.latent_dim:
            raise ValueError(
                f"the {modality.name} modality has latent_dim {modality.latent_dim}, "
                f"this model {self.latent_dim}"
            )
        if modality.name in self.modalities:
            raise ValueError(f"this model already has a {modality.name!r} modality")
        self.modalities[modality.name] = modality

    def _added_modalities(self) -> dict[str, Modality]:
        """The modalities added with `add_modality`: those the config does not build."""
        built = {"image", "label"} if self._built_from.label else {"image"}
        return {name: m for name, m in self.modalities.items() if name not in built}

    def _modality(self, name: str) -> Modality:
        if name not in self.modalities:
            raise ValueError(
                f"the {self._built_from.name} model has no {name} modality "
                f"(it has: {', '.join(self.modalities)})"
            )
        return self.modalities[name]

    # Tasks ---------------------------------------------------------------------------------

    def encode(self, images: Tensor) -> Tensor:
        """Anchors (b, q) of a batch of images in [-1, 1]."""
        return self.image.encode(images)

    def latents(
        self,
        images: Tensor,
        *,
        alpha: float = 1.0,
        bank: Tensor | str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Latents (b, q) of the images, in the zones cut by their batch (and `bank`: anchors,
        or "model" for the model's own bank)."""
        bank = anchor_banks.resolve(bank, self.bank)
        return self.image.latents(images, alpha=alpha, bank=bank, generator=generator)

    @torch.no_grad()
    def anchor_bank(self, images: Tensor, batch_size: int = 256) -> Tensor:
        """Anchors of a fixed reference set, for batch-independent latents (`bank=`)."""
        parts = [self.encode(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        return torch.cat(parts)

    @torch.no_grad()
    def set_bank(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        size: int = anchor_banks.DEFAULT_SIZE,
        seed: int = 0,
        batch_size: int = 256,
    ) -> None:
        """Make the anchors of `size` of these (training) images the model's bank, class-balanced
        by `labels` when given (`lzn.bank`). Encoded in eval mode with the current weights."""
        index = anchor_banks.select(len(images), labels, size, seed)
        was_training = self.training
        self.eval()
        try:
            self.bank = self.anchor_bank(images[index.to(images.device)], batch_size).float()
        finally:
            self.train(was_training)
        self.bank_labels = None if labels is None else torch.as_tensor(labels)[index].cpu().long()

    @torch.no_grad()
    def embed(self, images: Tensor) -> Tensor:
        """Features for downstream use: the trunk features (ResNet) or the anchors (U-Net)."""
        return self.image.features(images)

    @torch.no_grad()
    def translate(
        self,
        batch: Tensor,
        source: str,
        target: str,
        *,
        alpha: float = 1.0,
        bank: Tensor | None = None,
        generator: torch.Generator | None = None,
        **decode_kwargs,
    ) -> Tensor:
        """The source's encoder + the target's decoder: source latents decoded as the target."""
        z = self._modality(source).latents(batch, alpha=alpha, bank=bank, generator=generator)
        return self._modality(target).decode(z, generator=generator, **decode_kwargs)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        labels: Tensor | list[int] | None = None,
        *,
        sampler: str = "rk45",
        steps: int = 20,
        alpha: float = 1.0,
        generator: torch.Generator | None = None,
        max_evaluations: int = rf.MAX_EVALUATIONS,
        progress: bool = False,
    ) -> Tensor:
        """n images in [-1, 1]: of the given labels (label encoder + image decoder: latents in
        the labels' zones), or unconditional: latents from N(0, I) and, for a class-conditional
        decoder, the one-hot label that the label decoder reads from each latent (paper
        Alg. 7). `max_evaluations`: RK45's cap per sample; `progress`: a bar on stderr."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive number of images, got {n!r}")
        with TimeBar(f"sampling {n} images ({sampler})", enabled=progress) as bar:
            kwargs = {"sampler": sampler, "steps": steps, "generator": generator,
                      "max_evaluations": max_evaluations, "progress": bar}  # fmt: skip
            if labels is None:
                device = next(self.parameters()).device
                z = alpha * rng.randn(n, self.latent_dim, generator=generator, device=device)
                if self.image.num_classes:
                    kwargs["labels"] = self._labels_of(z, generator)
                return self.image.decode(z, **kwargs)
            labels = self._modality("label").validate(labels)
            if len(labels) != n:
                raise ValueError(f"got {len(labels)} labels for n={n} images")
            if self.image.num_classes:
                kwargs["labels"] = labels  # the decoder also takes the one-hot label (case study 3)
            return self.translate(labels, "label", "image", alpha=alpha, **kwargs)

    def _labels_of(self, latents: Tensor, generator: torch.Generator | None) -> Tensor:
        """The decoder's label for latents: the label decoder's reading of them, or, when the
        decoder ignores latents (the conditional rectified-flow baseline), uniform draws."""
        if self.image.decoder.latent_dim == 0:
            return rng.randint(
                self.image.num_classes, (len(latents),), generator=generator, device=latents.device
            )
        return self._modality("label").decode(latents)

    @torch.no_grad()
    def classify(
        self,
        images: Tensor,
        *,
        alpha: float = 0.0,
        bank: Tensor | str | None = MODEL_BANK,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Labels (b,): image encoder + label decoder, with uniform class weights; alpha = 0 takes
        zone centres, the paper's App. E.4 choice. Zones are cut by the model's bank plus the
        images (`bank="model"`, the default; the batch alone if the model has no bank), by the
        batch alone (`bank=None`, the paper's Alg. 9) or by given anchors plus the batch."""
        bank = anchor_banks.resolve(bank, self.bank)
        return self.translate(images, "image", "label", alpha=alpha, bank=bank, generator=generator)

    @torch.no_grad()
    def reconstruct(
        self,
        images: Tensor,
        *,
        labels: Tensor | None = None,
        sampler: str = "rk45",
        steps: int = 20,
        bank: Tensor | str | None = None,
        generator: torch.Generator | None = None,
        max_evaluations: int = rf.MAX_EVALUATIONS,
    ) -> Tensor:
        """The paper's reconstruction: the image's latent, the decoder's ODE back to noise, then
        forward again with the same latent. A class-conditional decoder takes `labels`, or, when
        none are given, the labels the label decoder reads from the images' latents."""
        images = self.image.validate(images)
        if labels is not None:
            labels = self._modality("label").validate(labels)
        z = self.latents(images, bank=bank, generator=generator)
        if labels is None and self.image.num_classes:
            labels = self._labels_of(z, generator)
        kwargs = {"sampler": sampler, "steps": steps, "max_evaluations": max_evaluations}
        noise = self.image.invert(images, z, labels=labels, **kwargs)
        return self.image.decode(z, labels=labels, noise=noise, **kwargs)

    # Weights -------------------------------------------------------------------------------

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write config.json and model.safetensors into `directory`, each atomically. A modality
        added with `add_modality` is stored as its class path and `init_args()` in config.json,
        its weights with the others; one that cannot be (no `init_args`, or a class that another
        program could not import) is refused before anything is written."""
        added = {name: _added_entry(m) for name, m in self._added_modalities().items()}
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"format": FORMAT, "lzn_version": lzn.__version__, **self.config}
        if added:
            config[ADDED_MODALITIES] = added
        if self.training_data is not None:
            config["training_data"] = dict(self.training_data)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        atomic.write(directory / WEIGHTS_FILE, lambda path: _write_weights(state, path))
        if self.bank is not None:
            bank = {"anchors": self.bank.detach().float().contiguous().cpu()}
            if self.bank_labels is not None:
                bank["labels"] = self.bank_labels.detach().long().contiguous().cpu()
            atomic.write(directory / BANK_FILE, lambda path: _write_weights(bank, path))
        else:  # a bank left by an earlier save belongs to other weights
            (directory / BANK_FILE).unlink(missing_ok=True)
        atomic.write(
            directory / CONFIG_FILE,
            lambda path: Path(path).write_text(json.dumps(config, indent=2) + "\n"),
        )
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location: str = "cpu") -> LZN:
        """Load a model written by `save_pretrained`, in eval mode (as for inference; call
        `.train()` to fine-tune); refuses anything else with a clear error. A stored added
        modality is rebuilt from its class path, which imports that module (running its code,
        as any import does); the class is used only if it subclasses lzn.modalities.Modality.
        `directory` may be a Hub reference, hf://OWNER/REPO[@REVISION][/PATH] (`lzn.hub`:
        downloaded into the Hugging Face cache, or read from it offline)."""
        from lzn import hub

        if hub.is_reference(directory):
            directory = hub.resolve_model_folder(directory)
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} does not exist (expected a save_pretrained folder)"
                )
        try:
            config = json.loads(config_path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{config_path} is not valid JSON: {e}") from None
        if not isinstance(config, dict) or config.pop("format", None) != FORMAT:
            raise ValueError(f"{config_path} is not an lzn model config (no format: {FORMAT!r})")
        config.pop("lzn_version", None)
        training_data = config.pop("training_data", None)
        added = config.pop(ADDED_MODALITIES, {})
        state = _read_weights(weights_path, map_location)
        try:
            model = cls(config)
            if not isinstance(added, dict):
                raise ValueError(f"{ADDED_MODALITIES} must map names to modalities, got {added!r}")
            for name, entry in added.items():
                model.add_modality(_rebuild_added(name, entry))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{config_path} does not describe an lzn model: {e!r}") from None
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ValueError(f"{weights_path} does not match {config_path}: {e}") from None
        model.training_data = training_data
        if (directory / BANK_FILE).is_file():
            model._load_bank(directory / BANK_FILE)
        return model.to(map_location).eval()

    def push_to_hub(
        self,
        repo_id: str,
        *,
        path_in_repo: str | None = None,
        report: dict | str | os.PathLike | None = None,
        private: bool | None = None,
        token: str | None = None,
    ):
        """Upload config.json, model.safetensors (and bank.safetensors) and a generated model
        card to the Hub repository `repo_id`, created if needed (`lzn.hub.push_to_hub`;
        `report`: an `lzn evaluate` report.json whose numbers the card lists)."""
        from lzn import hub

        return hub.push_to_hub(
            self, repo_id, path_in_repo=path_in_repo, report=report, private=private, token=token
        )

    @classmethod
    def from_official(
        cls,
        path: str | os.PathLike,
        *,
        case: str,
        ema: bool = True,
        config: ModelConfig | dict | None = None,
    ) -> LZN:
        """The model of a checkpoint released with the paper (microsoft/latent-zoning-networks),
        in eval mode: `case` is its official name ("case_study_1_cifar10") or lzn preset
        ("cifar10-generation"); EMA weights by default (what the paper evaluated), ema=False for
        the raw ones. The architecture is the case's, with widths and depths read from the
        tensors; `config` replaces it (a ModelConfig) or changes it (a dict). The file is read
        with torch.load(weights_only=True) only (`lzn.official`, docs/official.md). `path` may
        be a Hub reference: a released case's is `lzn.official.cases.case(name).hub_reference`."""
        from lzn import official

        return official.from_official(path, case, ema=ema, config=config)

    def _load_bank(self, path: Path) -> None:
        bank = _read_weights(path, "cpu")
        anchors, labels = bank.get("anchors"), bank.get("labels")
        if anchors is None or anchors.ndim != 2 or anchors.shape[1] != self.latent_dim:
            shape = None if anchors is None else tuple(anchors.shape)
            raise ValueError(
                f"{path} must hold anchors (k, {self.latent_dim}) for this model, got {shape}"
            )
        if labels is not None and labels.shape != (len(anchors),):
            raise ValueError(f"{path}: {tuple(labels.shape)} labels for {len(anchors)} anchors")
        self.bank, self.bank_labels = anchors, labels


def _added_entry(modality: Modality) -> dict:
    """The config.json entry that rebuilds an added modality: class path and init_args."""
    cls = type(modality)
    try:
        init_args = modality.init_args()
        if not isinstance(init_args, dict):
            raise ValueError(
                f"{cls.__qualname__}.init_args() returned {init_args!r}; it must return the "
                "keyword arguments that rebuild the modality (Modality.init_args)"
            )
        json.dumps(init_args)
        return {"class_path": path_of(cls), "init_args": init_args}
    except (TypeError, ValueError) as e:  # TypeError: init_args that JSON cannot hold
        raise ValueError(
            f"save_pretrained cannot store the {modality.name!r} modality: {e}. Or remove it and "
            f"save the state_dict of {modality.name} yourself"
        ) from None


def _rebuild_added(name: str, entry: object) -> Modality:
    """The modality an `_added_entry` describes (importing its module), named `name`."""
    if not isinstance(entry, dict) or set(entry) != {"class_path", "init_args"}:
        raise ValueError(f"modality {name!r} must be {{class_path, init_args}}, got {entry!r}")
    path, init_args = entry["class_path"], entry["init_args"]
    modality_class = import_class(
        path, Modality, what="modality", base_name="lzn.modalities.Modality"
    )
    try:
        modality = modality_class(**init_args)
    except TypeError as e:
        raise ValueError(f"modality {path}: {e}") from None
    if modality.name != name:
        raise ValueError(f"modality {path} is named {modality.name!r}, stored as {name!r}")
    return modality


def _read_weights(path: Path, device: str) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device=device)
    except (SafetensorError, OSError) as e:
        raise ValueError(
            f"{path} is not a readable safetensors file (truncated, or another format such as a "
            f"pickle, which is never loaded): {e}"
        ) from None


def _write_weights(state: dict[str, Tensor], path: str) -> None:
    from safetensors.torch import save_file

    save_file(state, path)
