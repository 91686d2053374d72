"""Grid LSTM block (Kalchbrenner, Danihelka & Graves, 2016)."""

import keras
from keras import ops

KINDS = ("lstm", "plain")


def check_positive_int(layer, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: `{name}` must be a positive integer; received {value!r}.")


def grid_kinds(kinds, dimensions, layer):
    """`kinds` as a tuple of one kind per dimension; a single kind applies to all."""
    if isinstance(kinds, str):
        kinds = (kinds,) * dimensions
    kinds = tuple(kinds) if isinstance(kinds, (list, tuple)) else kinds
    if not isinstance(kinds, tuple) or len(kinds) != dimensions or any(k not in KINDS for k in kinds):
        raise ValueError(
            f"{layer}: `kinds` must be one of {KINDS} or a sequence of {dimensions} of them (one "
            f"per dimension); received {kinds!r}."
        )
    return kinds


def grid_priority(priority, dimensions, layer):
    """`priority` as a tuple of distinct dimension indices (empty for none)."""
    if priority is None:
        return ()
    items = tuple(priority) if isinstance(priority, (list, tuple)) else None
    if (items is None or any(not isinstance(p, int) or isinstance(p, bool) for p in items)
            or len(set(items)) != len(items) or any(not 0 <= p < dimensions for p in items)):
        raise ValueError(
            f"{layer}: `priority` must be None or distinct dimension indices in [0, {dimensions}) "
            f"(a permutation of some or all of them); received {priority!r}."
        )
    return items


def grid_stages(dimensions, priority):
    """The order of the transforms: the dimensions not in `priority` together
    (they all see the incoming hidden vectors), then each of `priority` alone."""
    first = [i for i in range(dimensions) if i not in priority]
    return ([first] if first else []) + [[p] for p in priority]


def fresh_initializer(initializer):
    """A copy with a random state of its own: an unseeded Keras initializer
    picks its seed once, so one instance draws the same values for every
    weight of a shape. (A seeded one stays seeded: its copies agree.)"""
    if isinstance(initializer, keras.initializers.Initializer):
        return initializer.__class__.from_config(initializer.get_config())
    return initializer


def state_dtype(policy):
    """Memory, gates and states stay float32 under a mixed 16-bit policy."""
    compute = policy.compute_dtype
    return "float32" if compute in ("float16", "bfloat16") else compute


def lstm_transform(z, memory):
    """Eq. 1 of the paper: z = H W + b split into the input, forget, cell
    and output pre-activations (Keras's order) -> (h', m'), with
    `h' = tanh(g_o * m')` as the paper writes it."""
    i, f, c, o = ops.split(z, 4, axis=-1)
    memory = ops.sigmoid(f) * memory + ops.sigmoid(i) * ops.tanh(c)
    return ops.tanh(ops.sigmoid(o) * memory), memory


@keras.saving.register_keras_serializable(package="special_networks")
class GridLSTMCell(keras.layers.Layer):
    """One N-dimensional Grid LSTM block: a transform along every dimension.

    From "Grid Long Short-Term Memory" (Kalchbrenner, Danihelka & Graves,
    ICLR 2016). The block receives a hidden vector `h_i` along each of its
    `dimensions` and a memory vector `m_i` along each LSTM dimension. All
    transforms read the shared input `H = [h_1; ...; h_N]` (eq. 3). Along an
    LSTM dimension (eq. 4, with the LSTM of eq. 1)

        [i, f, c, o] = H W_i + b_i
        m_i' = sigmoid(f) * m_i + sigmoid(i) * tanh(c)
        h_i' = tanh(sigmoid(o) * m_i')

    and along a plain (non-LSTM) dimension, `h_i' = activation(H V_i + b_i)`
    without memory (the paper's non-LSTM dimensions: e.g. the dimension
    that brings the input in). Each dimension has its own weights.

    `priority` lists prioritised dimensions (eq. 5): the other
    dimensions are computed first, together; then each prioritised
    dimension in turn, reading `H` with the outgoing `h_j'` of every
    dimension computed before it in place of the incoming `h_j`. The
    paper's prioritised depth of an N-d block is `priority=(N - 1,)`.

    The incoming hidden vectors may have any sizes (an input dimension can
    take the data itself); every outgoing vector, and every memory, has
    `units`. Under a `mixed_float16` policy the matrix products run in
    float16 while the gates, memories and outputs stay float32 (the
    block's `compute_dtype` is float32).

    A grid of blocks along time, depth or an image is `GridLSTM1D`,
    `GridLSTM2D` or `GridLSTM3D`; weights shared along a dimension are
    the same block applied at every position along it.

    Args:
        units: size of every outgoing hidden and memory vector.
        dimensions: N, the number of dimensions of the block. Defaults to 2.
        kinds: `"lstm"`, `"plain"`, or a sequence of N of them (one per
            dimension). Defaults to `"lstm"`.
        priority: None (all dimensions at once, eq. 4), or distinct
            dimension indices computed last, in this order (eq. 5).
        activation: of the plain dimensions. Defaults to `"tanh"`.
        forget_bias: added to the initial bias of the forget gates.
            Defaults to 1.
        kernel_initializer: initializer of the `W_i` and `V_i`.
        bias_initializer: initializer of the `b_i`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the N incoming hidden vectors [B, s_i], then the memory
            [B, units] of each LSTM dimension, in the dimensions' order.

    Returns:
        The N outgoing hidden vectors [B, units], then the outgoing memory
        of each LSTM dimension [B, units], as a list in the same order.

    Example:

    >>> block = GridLSTMCell(32, dimensions=2, priority=(1,))
    >>> h_time, h_depth, m_time, m_depth = [keras.ops.zeros((4, 32))] * 4
    >>> h_time, h_depth, m_time, m_depth = block([h_time, h_depth, m_time, m_depth])
    """

    def __init__(
        self,
        units,
        dimensions=2,
        kinds="lstm",
        priority=None,
        activation="tanh",
        forget_bias=1.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        check_positive_int(name, "units", units)
        check_positive_int(name, "dimensions", dimensions)
        self.units = units
        self.dimensions = dimensions
        self.kinds = grid_kinds(kinds, dimensions, name)
        self.priority = grid_priority(priority, dimensions, name)
        self.activation = keras.activations.get(activation)
        self.forget_bias = float(forget_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.lstm_dimensions = [i for i, k in enumerate(self.kinds) if k == "lstm"]

    @property
    def compute_dtype(self):
        return state_dtype(self.dtype_policy)

    def input_sizes(self, hidden_sizes):
        """The size of the `H` each dimension reads, given the incoming hidden sizes."""
        sizes, done = [None] * self.dimensions, set()
        for stage in grid_stages(self.dimensions, self.priority):
            for i in stage:
                sizes[i] = sum(self.units if j in done else s for j, s in enumerate(hidden_sizes))
            done.update(stage)
        return sizes

    def build(self, input_shape):
        n, count = self.dimensions, self.dimensions + len(self.lstm_dimensions)
        shapes = list(input_shape) if isinstance(input_shape, (list, tuple)) else None
        if (shapes is None or len(shapes) != count
                or not all(isinstance(s, (list, tuple)) for s in shapes)):
            raise ValueError(
                f"GridLSTMCell: `inputs` must be a list of {n} hidden vectors and {count - n} memory "
                f"vectors (one per LSTM dimension); received shapes {input_shape}."
            )
        for index, shape in enumerate(shapes):
            if len(shape) != 2 or shape[-1] is None:
                raise ValueError(
                    f"GridLSTMCell: each of `inputs` must be [batch, features] with a known feature "
                    f"size; received shape {tuple(shape)} at position {index}."
                )
            if index >= n and shape[-1] != self.units:
                raise ValueError(
                    f"GridLSTMCell: the memory vectors of `inputs` must have `units` ({self.units}) "
                    f"features; received shape {tuple(shape)} at position {index}."
                )
        units = self.units
        self.kernels, self.biases = [], []
        for i, size in enumerate(self.input_sizes([s[-1] for s in shapes[:n]])):
            lstm = self.kinds[i] == "lstm"
            width = 4 * units if lstm else units
            self.kernels.append(self.add_weight(name=f"kernel_{i}", shape=(size, width),
                                                initializer=fresh_initializer(self.kernel_initializer)))
            self.biases.append(self.add_weight(name=f"bias_{i}", shape=(width,),
                                               initializer=self._bias_initializer(lstm)))

    def _bias_initializer(self, lstm):
        base = fresh_initializer(self.bias_initializer)
        if not lstm or self.forget_bias == 0.0:
            return base
        units, forget_bias = self.units, self.forget_bias

        def initializer(shape, dtype=None):
            bias = base(shape, dtype=dtype)
            return ops.concatenate([bias[:units], bias[units: 2 * units] + forget_bias, bias[2 * units:]])

        return initializer

    def step(self, hiddens, memories):
        """The block on lists of N hidden vectors and N memories (None along
        plain dimensions) -> (outgoing hidden vectors, memories), as lists."""
        low, high = self.dtype_policy.compute_dtype, self.compute_dtype
        hiddens = [ops.cast(h, high) for h in hiddens]
        new_h, new_m = [None] * self.dimensions, [None] * self.dimensions
        for stage in grid_stages(self.dimensions, self.priority):
            shared = ops.concatenate(
                [h if new_h[j] is None else new_h[j] for j, h in enumerate(hiddens)], axis=-1)
            shared = ops.cast(shared, low)
            for i in stage:
                z = ops.matmul(shared, ops.cast(self.kernels[i], low)) + ops.cast(self.biases[i], low)
                z = ops.cast(z, high)
                if self.kinds[i] == "lstm":
                    new_h[i], new_m[i] = lstm_transform(z, ops.cast(memories[i], high))
                else:
                    new_h[i] = self.activation(z)
        return new_h, new_m

    def call(self, inputs):
        n = self.dimensions
        memories = [None] * n
        for i, memory in zip(self.lstm_dimensions, inputs[n:]):
            memories[i] = memory
        new_h, new_m = self.step(list(inputs[:n]), memories)
        return new_h + [new_m[i] for i in self.lstm_dimensions]

    def compute_output_shape(self, input_shape):
        batch = input_shape[0][0]
        return [(batch, self.units)] * (self.dimensions + len(self.lstm_dimensions))

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "dimensions": self.dimensions,
            "kinds": list(self.kinds),
            "priority": list(self.priority) if self.priority else None,
            "activation": keras.activations.serialize(self.activation),
            "forget_bias": self.forget_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config
