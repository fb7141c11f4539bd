import importlib.util

import pytest
import torch

from lzn.eval import inception


def test_images_become_the_uint8_rgb_a_png_would_hold():
    images = torch.tensor([-1.0, 0.0, 1.0, 0.5]).view(1, 1, 2, 2)
    pixels = inception.to_uint8_rgb(images)
    assert pixels.dtype == torch.uint8 and pixels.shape == (1, 3, 2, 2)
    assert pixels[0, :, 0, 0].tolist() == [0, 0, 0] and pixels[0, 2, 1, 0].item() == 255
    assert pixels[0, 1, 0, 1].item() == 128  # 127.5 rounds half to even


def test_weights_are_found_in_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("LZN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        inception.find_weights()
    (tmp_path / "checkpoints").mkdir()
    file = tmp_path / "checkpoints" / inception.WEIGHTS_FILE
    file.write_bytes(b"")
    assert inception.find_weights() == file
    with pytest.raises(FileNotFoundError, match="does not exist"):
        inception.find_weights(tmp_path / "elsewhere.pth")


def test_inception_features_never_download(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("attempted a download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv("LZN_INCEPTION_WEIGHTS", raising=False)
    installed = importlib.util.find_spec("torch_fidelity") is not None
    expected = FileNotFoundError if installed else ImportError
    with pytest.raises(expected, match="weights" if installed else "pip install torch-fidelity"):
        inception.InceptionFeatures()
