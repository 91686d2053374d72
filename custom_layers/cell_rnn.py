"""`CellRNN`: a `keras.layers.RNN` over one of our cells, configured by the
cell's own arguments (as `keras.layers.LSTM` is over `LSTMCell`)."""

import keras

# Arguments of the base `Layer`, which go to the RNN layer, not to the cell.
_LAYER_ARGS = ("name", "dtype", "trainable", "activity_regularizer", "input_shape", "batch_size")
_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask")


class CellRNN(keras.layers.RNN):
    """Subclasses set `cell_class`; `return_sequences` defaults to True."""

    cell_class = None

    def __init__(self, *args, return_sequences=True, **kwargs):
        layer_kwargs = {k: kwargs.pop(k) for k in _LAYER_ARGS + _RNN_ARGS if k in kwargs}
        cell = self.cell_class(*args, dtype=layer_kwargs.get("dtype"), **kwargs)
        super().__init__(cell, return_sequences=return_sequences, **layer_kwargs)

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
