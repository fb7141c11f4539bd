"""Data: built-in offline sets (digits, MNIST), CIFAR-10, image folders, ImageNet, and the data
modules that batch them for training (`lzn fit` configs name these: `lzn.data.DigitsData`...).
The data modules load lazily, so that reading a data set does not import Lightning."""

_MODULES = ("CIFAR10Data", "DigitsData", "FolderData", "ImageNetData", "LZNData", "MNISTData")
__all__ = list(_MODULES)


def __getattr__(name: str):
    if name in _MODULES:
        from lzn.data import modules

        return getattr(modules, name)
    raise AttributeError(f"module 'lzn.data' has no attribute {name!r}")
