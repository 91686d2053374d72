"""Model builders and the registry of zoo models."""

from zoo import highway_mnist  # noqa: F401  (registers its entry)
from zoo.registry import Preset, TensorInfo, ZooEntry, get, names

__all__ = ["Preset", "TensorInfo", "ZooEntry", "get", "names"]
