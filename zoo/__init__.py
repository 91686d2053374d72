"""Model builders and the registry of zoo models."""

from zoo import (  # noqa: F401  (register their entries)
    babi_lstm, cldnn, conv_autoencoder, copy_chat, fizzbuzz, grid_lstm_parity, highway_mnist, memn2n,
    ntm_copy, ntm_tasks, pointer_networks, ptb_language_model, st_cnn, stack_rnn, vqa_shapes)
from zoo import wavenet  # noqa: F401  (registers wavenet_fsdd)
from zoo import grid_lstm_addition  # noqa: F401  (registers grid_lstm_addition, lstm_addition)
from zoo import grid_lstm_mnist  # noqa: F401  (registers grid_lstm_mnist)
from zoo import convs2s  # noqa: F401  (registers convs2s_fra, gru_attention_fra)
from zoo import grid_lstm_memorization  # noqa: F401  (registers grid_lstm_memorization, lstm_memorization)
from zoo.registry import Preset, TensorInfo, ZooEntry, get, names

__all__ = ["Preset", "TensorInfo", "ZooEntry", "get", "names"]
