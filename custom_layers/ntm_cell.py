"""Neural Turing Machine cell (Graves, Wayne & Danihelka, 2014)."""

import keras
from keras import ops

from custom_layers.cell_rnn import CellRNN

CONTROLLERS = ("lstm", "feedforward")
MEMORY_INITS = ("constant", "learned", "random")


def content_weighting(memory, key, strength):
    """`softmax(strength * cosine(key, memory rows))` over the N locations.

    memory [B,N,M], key [B,H,M], strength [B,H,1] -> [B,H,N]."""
    dot = ops.einsum("bhm,bnm->bhn", key, memory)
    # The 1e-16 keeps the gradient of the norm finite at a zero row.
    key_norm = ops.sqrt(ops.sum(ops.square(key), axis=-1, keepdims=True) + 1e-16)
    row_norm = ops.sqrt(ops.sum(ops.square(memory), axis=-1) + 1e-16)
    similarity = dot / (key_norm * ops.expand_dims(row_norm, 1))
    return ops.softmax(strength * similarity, axis=-1)


def interpolate(content, previous, gate):
    """`gate * content + (1 - gate) * previous`; gate [B,H,1]."""
    return gate * content + (1.0 - gate) * previous


def circular_shift(weighting, shift):
    """Circular convolution of the weighting [B,H,N] with the shift
    distribution [B,H,S] over the offsets -(S//2) .. S//2."""
    width, n = shift.shape[-1], weighting.shape[-1]
    half = width // 2
    # Wrapped once around, offset k is the slice starting at half - k.
    wrapped = ops.concatenate([weighting[..., n - half:], weighting, weighting[..., :half]], axis=-1)
    moved = [wrapped[..., half - k: half - k + n] * shift[..., half + k: half + k + 1]
             for k in range(-half, half + 1)]
    return sum(moved[1:], moved[0])


def sharpen(weighting, gamma):
    """`w^gamma / sum(w^gamma)` (gamma >= 1), as a softmax of logs: the
    direct form underflows to 0/0 once gamma is large."""
    return ops.softmax(gamma * ops.log(weighting + 1e-12), axis=-1)


def address(memory, previous, key, strength, gate, shift, gamma):
    """The four addressing steps of the NTM paper (section 3.3), in order."""
    weighting = content_weighting(memory, key, strength)
    weighting = interpolate(weighting, previous, gate)
    weighting = circular_shift(weighting, shift)
    return sharpen(weighting, gamma)


def read(memory, weighting):
    """Read vectors [B,H,M]: rows of memory [B,N,M] weighted by [B,H,N]."""
    return ops.einsum("bhn,bnm->bhm", weighting, memory)


def write(memory, weighting, erase, add):
    """Erase then add with every write head: weighting [B,W,N], erase and
    add [B,W,M]. Erasures multiply, so the heads' order does not matter."""
    for head in range(weighting.shape[1]):
        memory = memory * (1.0 - ops.einsum("bn,bm->bnm", weighting[:, head], erase[:, head]))
    return memory + ops.einsum("bwn,bwm->bnm", weighting, add)


@keras.saving.register_keras_serializable(package="special_networks")
class NTMCell(keras.layers.Layer):
    """Neural Turing Machine cell, for `keras.layers.RNN` (or `NTM`).

    From "Neural Turing Machines" (Graves, Wayne & Danihelka, 2014). At each
    step a controller (an LSTM or a feed-forward layer) reads the input and
    the previous read vectors; its output, clipped to `[-clip_value,
    clip_value]`, is projected to the parameters of `read_heads` read and
    `write_heads` write heads. Every head addresses the N x M memory by
    content (cosine similarity sharpened by `beta`), interpolates with its
    previous weighting (`g`), shifts it circularly (a distribution over
    `shift_range` offsets) and sharpens it (`gamma >= 1`). Read heads read
    from the memory as it was before this step's writes; write heads then
    erase and add. Initial read vectors and weightings are learned.

    The memory starts at `memory_init`: `"constant"` (every cell
    `memory_init_value`, 1e-6 by default: the scheme that Collier & Beel,
    2018, found to converge fastest), `"learned"` (a trained N x M matrix) or
    `"random"` (a fixed draw, the same for every sequence).

    Under a `mixed_float16` policy the controller runs in float16 while the
    addressing, the memory and every state stay float32 (the cell's
    `compute_dtype` is float32): weightings over 128 locations and memory
    values near 1e-6 do not survive float16.

    Args:
        units: size of the controller.
        memory_size: N, the number of memory locations.
        memory_width: M, the size of each location.
        read_heads: R, the number of read heads. Defaults to 1.
        write_heads: W, the number of write heads. Defaults to 1.
        shift_range: S, the number of shift offsets (odd, at most N),
            centred on 0. Defaults to 3 (-1, 0, +1).
        controller: `"lstm"` or `"feedforward"`. Defaults to `"lstm"`.
        memory_init: `"constant"`, `"learned"` or `"random"`.
        memory_init_value: the constant of `memory_init="constant"`.
        clip_value: bound on the controller's output, or `None`. Defaults
            to 20.
        kernel_initializer: initializer of the head projection.
        seed: seed of the random initial memory and weighting logits.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [B, D] for one step.
        states: controller states, then the memory [B, N*M], the read
            vectors [B, R*M], the read weightings [B, R*N] and the write
            weightings [B, W*N].

    Returns:
        `(output, states)`: output [B, units + R*M], the controller's
        output followed by this step's read vectors.

    Example:

    >>> bits = keras.Input((None, 9))
    >>> h = keras.layers.RNN(NTMCell(100, 128, 20), return_sequences=True)(bits)
    >>> copy = keras.layers.Dense(8, activation="sigmoid")(h)
    """

    def __init__(
        self,
        units,
        memory_size,
        memory_width,
        read_heads=1,
        write_heads=1,
        shift_range=3,
        controller="lstm",
        memory_init="constant",
        memory_init_value=1e-6,
        clip_value=20.0,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("memory_size", memory_size),
                            ("memory_width", memory_width), ("read_heads", read_heads),
                            ("write_heads", write_heads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"NTMCell: `{name}` must be a positive integer; received {value!r}.")
        if (not isinstance(shift_range, int) or shift_range < 1 or shift_range % 2 == 0
                or shift_range > memory_size):
            raise ValueError(
                "NTMCell: `shift_range` must be an odd positive integer no larger than "
                f"`memory_size` ({memory_size}); received {shift_range!r}."
            )
        if controller not in CONTROLLERS:
            raise ValueError(f"NTMCell: `controller` must be one of {CONTROLLERS}; received {controller!r}.")
        if memory_init not in MEMORY_INITS:
            raise ValueError(
                f"NTMCell: `memory_init` must be one of {MEMORY_INITS}; received {memory_init!r}."
            )
        if clip_value is not None and not clip_value > 0:
            raise ValueError(f"NTMCell: `clip_value` must be positive or None; received {clip_value!r}.")
        self.units = units
        self.memory_size = memory_size
        self.memory_width = memory_width
        self.read_heads = read_heads
        self.write_heads = write_heads
        self.shift_range = shift_range
        self.controller = controller
        self.memory_init = memory_init
        self.memory_init_value = float(memory_init_value)
        self.clip_value = None if clip_value is None else float(clip_value)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        if controller == "lstm":
            self.controller_layer = keras.layers.LSTMCell(units, dtype=self.dtype_policy, name="controller")
            controller_states = [units, units]
        else:
            self.controller_layer = keras.layers.Dense(
                units, activation="tanh", dtype=self.dtype_policy, name="controller"
            )
            controller_states = []
        self._num_controller_states = len(controller_states)
        self.state_size = controller_states + [
            memory_size * memory_width,
            read_heads * memory_width,
            read_heads * memory_size,
            write_heads * memory_size,
        ]
        self.output_size = units + read_heads * memory_width
        read_params = memory_width + 3 + shift_range  # key, beta, g, shift, gamma
        self._head_sizes = [read_params] * read_heads + [read_params + 2 * memory_width] * write_heads

    @property
    def compute_dtype(self):
        policy = self.dtype_policy.compute_dtype
        return "float32" if policy in ("float16", "bfloat16") else policy

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "NTMCell: `inputs` of one step must be [batch, features] with a known feature "
                f"size; received shape {tuple(input_shape)}."
            )
        controller_input = input_shape[-1] + self.read_heads * self.memory_width
        self.controller_layer.build((input_shape[0], controller_input))
        self.head_kernel = self.add_weight(
            name="head_kernel", shape=(self.units, sum(self._head_sizes)),
            initializer=self.kernel_initializer,
        )
        self.head_bias = self.add_weight(name="head_bias", shape=(sum(self._head_sizes),),
                                         initializer="zeros")
        self.initial_reads = self.add_weight(
            name="initial_reads", shape=(self.read_heads * self.memory_width,),
            initializer=keras.initializers.RandomNormal(stddev=0.5, seed=self.seed),
        )
        # Random logits break the symmetry of a constant memory.
        self.initial_weighting_logits = self.add_weight(
            name="initial_weighting_logits",
            shape=(self.read_heads + self.write_heads, self.memory_size),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed),
        )
        if self.memory_init != "constant":
            self.initial_memory = self.add_weight(
                name="initial_memory", shape=(self.memory_size * self.memory_width,),
                initializer=keras.initializers.RandomNormal(stddev=0.5, seed=self.seed),
                trainable=self.memory_init == "learned",
            )

    def get_initial_state(self, batch_size=None):
        dtype = self.compute_dtype
        controller = [ops.zeros((batch_size, self.units), dtype) for _ in range(self._num_controller_states)]
        if self.memory_init == "constant":
            memory = ops.full((batch_size, self.memory_size * self.memory_width),
                              self.memory_init_value, dtype)
        else:
            memory = ops.tile(ops.cast(self.initial_memory[None], dtype), (batch_size, 1))
        weightings = ops.softmax(ops.cast(self.initial_weighting_logits, dtype), axis=-1)
        read_w = ops.reshape(weightings[: self.read_heads], (1, -1))
        write_w = ops.reshape(weightings[self.read_heads:], (1, -1))
        return controller + [
            memory,
            ops.tile(ops.cast(self.initial_reads[None], dtype), (batch_size, 1)),
            ops.tile(read_w, (batch_size, 1)),
            ops.tile(write_w, (batch_size, 1)),
        ]

    def _heads(self, params, count, offset, width):
        """Splits the projected controller output into one kind of head's parameters."""
        block = params[:, offset: offset + count * width]
        return ops.reshape(block, (-1, count, width))

    def call(self, inputs, states, training=False):
        n, m, r, w, s = (self.memory_size, self.memory_width, self.read_heads,
                         self.write_heads, self.shift_range)
        controller_states = list(states[: self._num_controller_states])
        memory, reads, read_w, write_w = states[self._num_controller_states:]
        batch = ops.shape(inputs)[0]
        memory = ops.reshape(memory, (batch, n, m))
        read_w = ops.reshape(read_w, (batch, r, n))
        write_w = ops.reshape(write_w, (batch, w, n))

        low = self.controller_layer.compute_dtype
        x = ops.cast(ops.concatenate([ops.cast(inputs, reads.dtype), reads], axis=-1), low)
        if self.controller == "lstm":
            hidden, controller_states = self.controller_layer(
                x, [ops.cast(t, low) for t in controller_states], training=training
            )
            controller_states = [ops.cast(t, self.compute_dtype) for t in controller_states]
        else:
            hidden = self.controller_layer(x)
        hidden = ops.cast(hidden, self.compute_dtype)
        if self.clip_value is not None:
            hidden = ops.clip(hidden, -self.clip_value, self.clip_value)
        params = ops.matmul(hidden, self.head_kernel) + self.head_bias

        read_params = self._heads(params, r, 0, m + 3 + s)
        write_params = self._heads(params, w, r * (m + 3 + s), m + 3 + s + 2 * m)

        def addressing(p, previous):
            key = ops.tanh(p[..., :m])
            strength = ops.softplus(p[..., m: m + 1])
            gate = ops.sigmoid(p[..., m + 1: m + 2])
            shift = ops.softmax(p[..., m + 2: m + 2 + s], axis=-1)
            gamma = 1.0 + ops.softplus(p[..., m + 2 + s: m + 3 + s])
            return address(memory, previous, key, strength, gate, shift, gamma)

        # Every head, read or write, addressed in one pass.
        weightings = addressing(
            ops.concatenate([read_params, write_params[..., : m + 3 + s]], axis=1),
            ops.concatenate([read_w, write_w], axis=1),
        )
        read_w, write_w = weightings[:, :r], weightings[:, r:]
        reads = ops.reshape(read(memory, read_w), (batch, r * m))
        erase = ops.sigmoid(write_params[..., m + 3 + s: 2 * m + 3 + s])
        add = ops.tanh(write_params[..., 2 * m + 3 + s:])
        memory = write(memory, write_w, erase, add)

        output = ops.concatenate([hidden, reads], axis=-1)
        new_states = controller_states + [
            ops.reshape(memory, (batch, n * m)),
            reads,
            ops.reshape(read_w, (batch, r * n)),
            ops.reshape(write_w, (batch, w * n)),
        ]
        return output, new_states

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "memory_size": self.memory_size,
            "memory_width": self.memory_width,
            "read_heads": self.read_heads,
            "write_heads": self.write_heads,
            "shift_range": self.shift_range,
            "controller": self.controller,
            "memory_init": self.memory_init,
            "memory_init_value": self.memory_init_value,
            "clip_value": self.clip_value,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "seed": self.seed,
        })
        return config


@keras.saving.register_keras_serializable(package="special_networks")
class NTM(CellRNN):
    """A Neural Turing Machine over a sequence: `keras.layers.RNN(NTMCell(...))`.

    Takes `NTMCell`'s arguments and the RNN layer's (`return_sequences`,
    True by default, `return_state`, `go_backwards`, ...). Masked steps
    leave the memory and every state unchanged.

    Call arguments:
        inputs: [B, T, D].
        mask: optional [B, T] boolean mask.
        initial_state: optional states, as `NTMCell` lists them.

    Returns:
        [B, T, units + R*M] (or [B, units + R*M] without
        `return_sequences`).

    Example:

    >>> bits = keras.Input((None, 9))
    >>> copy = keras.layers.Dense(8, activation="sigmoid")(NTM(100, 128, 20)(bits))
    """

    cell_class = NTMCell
