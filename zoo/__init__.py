"""Model builders and the registry of zoo models."""

from zoo import babi_lstm, copy_chat, highway_mnist, memn2n, pointer_networks, st_cnn  # noqa: F401  (register their entries)
from zoo.registry import Preset, TensorInfo, ZooEntry, get, names

__all__ = ["Preset", "TensorInfo", "ZooEntry", "get", "names"]
