"""Grid LSTM networks (Kalchbrenner, Danihelka & Graves, 2016): `GridLSTMCell`
blocks arranged along depth (`GridLSTM1D`), time and depth (`GridLSTM2D`, over
its step cell `GridLSTM2DCell`) and an image's rows, columns and depth
(`GridLSTM3D`).

The four classes live in one module because they are one network: each is
the same stack of blocks along depth (`_GridLSTMStack`: the input
projection, tied or untied blocks, the pass up the depth), placed at one
point (1D), at every step of a sequence (2D) or at every block of pixels of
an image (3D); only the dimensions that they add around the stack differ.
"""

import keras
from keras import ops

from custom_layers.cell_rnn import CellRNN
from custom_layers.grid_lstm_cell import (GridLSTMCell, check_positive_int, fresh_initializer,
                                          grid_kinds, grid_priority, state_dtype)


def _scan(step, carry, outputs, xs=None, length=None):
    """A scan whose `step(carry, x) -> (carry, outputs)`; `outputs` gives the
    outputs' shapes and dtypes (as zeros). -> (final carry, stacked outputs).

    On TensorFlow it is `tf.scan`, not `ops.scan`: Keras's TensorFlow scan
    runs a `tf.while_loop` without `maximum_iterations`, whose gradient does
    not compile under XLA (`jit_compile=True` training), and it stacks
    outputs shaped like the carry only."""
    def body(state, x):
        new_carry, new_outputs = step(list(state[0]), x)
        return tuple(new_carry), tuple(new_outputs)

    init = (tuple(carry), tuple(outputs))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        elems = xs if xs is not None else tf.zeros((length,))
        carries, stacked = tf.scan(lambda state, x: body(state, x if xs is not None else None),
                                   elems, initializer=init)
        return [c[-1] for c in carries], list(stacked)

    def carry_and_outputs(state, x):
        state = body(state, x)
        return state, state[1]

    final, stacked = ops.scan(carry_and_outputs, init, xs=xs, length=length)
    return list(final[0]), list(stacked)


class _GridLSTMStack(keras.layers.Layer):
    """`depth` Grid LSTM blocks along the last (depth) dimension of an
    N-d grid, at one position of the other N-1 dimensions.

    The depth dimension of the first block takes the input, projected to
    `units` without a bias (`x I`, the paper's projection) or, with
    `project_input=False`, as it is; its memory starts at zero. The other
    dimensions' hidden vectors and memories come from, and go back to, the
    neighbouring positions of the grid, one per depth. With `tied=True`
    one block serves every depth (`ops.scan` over depth: one set of
    weights, and a graph of one block however deep); otherwise each depth
    has its own block."""

    grid_dimensions = None

    def __init__(
        self,
        units,
        depth=1,
        kinds="lstm",
        priority=None,
        tied=False,
        project_input=True,
        activation="tanh",
        forget_bias=1.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        name, n = type(self).__name__, self.grid_dimensions
        check_positive_int(name, "units", units)
        check_positive_int(name, "depth", depth)
        if not isinstance(tied, bool):
            raise ValueError(f"{name}: `tied` must be True or False; received {tied!r}.")
        self.units = units
        self.depth = depth
        self.kinds = grid_kinds(kinds, n, name)
        self.priority = grid_priority(priority, n, name)
        self.tied = tied
        self.project_input = bool(project_input)
        self.activation = keras.activations.get(activation)
        self.forget_bias = float(forget_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.blocks = [
            GridLSTMCell(units, n, self.kinds, self.priority or None, activation, forget_bias,
                         kernel_initializer, bias_initializer, dtype=self.dtype_policy,
                         name="block" if tied else f"block_{d}")
            for d in range(1 if tied else depth)
        ]

    def _build_stack(self, features):
        """Builds the projection and the blocks for `features` input features."""
        name, u = type(self).__name__, self.units
        if self.project_input:
            self.input_kernel = self.add_weight(name="input_kernel", shape=(features, u),
                                                initializer=fresh_initializer(self.kernel_initializer))
            first = u
        else:
            first = features
        if self.tied and self.depth > 1 and first != u:
            raise ValueError(
                f"{name}: `tied=True` applies one block at every depth, so the depth input of the "
                f"first block must have `units` ({u}) features, like the depth output of every "
                f"block; received {features} input features with `project_input=False`. Project "
                "the input (`project_input=True`), untie the weights (`tied=False`) or give the "
                "input `units` features."
            )
        n = self.grid_dimensions
        memories = [(None, u)] * len(self.blocks[0].lstm_dimensions)
        for d, block in enumerate(self.blocks):
            sizes = [u] * (n - 1) + [first if d == 0 else u]
            block.build([(None, s) for s in sizes] + memories)

    def _project(self, inputs):
        """The depth input of the first block, in the state dtype."""
        high = state_dtype(self.dtype_policy)
        if not self.project_input:
            return ops.cast(inputs, high)
        low = self.dtype_policy.compute_dtype
        return ops.cast(ops.matmul(ops.cast(inputs, low), ops.cast(self.input_kernel, low)), high)

    def _run(self, first, others):
        """The blocks from the bottom to the top of the stack.

        `first` [B, s]: the depth input of the first block. `others`: for
        each other dimension, (hidden [depth, B, units], memory [depth, B,
        units] or None along a plain dimension), one per block. Returns the
        outgoing `others`, in the same form, and the top block's depth
        output [B, units]."""
        n, u = self.grid_dimensions, self.units
        depth_lstm = self.kinds[-1] == "lstm"
        batch = ops.shape(first)[0]
        carry = [first] + ([ops.zeros((batch, u), first.dtype)] if depth_lstm else [])
        lstm_other = [m is not None for _, m in others]

        def block_step(block, carry, hiddens, memories):
            new_h, new_m = block.step(hiddens + [carry[0]], memories + [carry[1] if depth_lstm else None])
            out = []
            for k in range(n - 1):
                out += [new_h[k]] + ([new_m[k]] if lstm_other[k] else [])
            return [new_h[-1]] + ([new_m[-1]] if depth_lstm else []), out

        def split(flat):
            hiddens, memories, position = [], [], 0
            for k in range(n - 1):
                hiddens.append(flat[position])
                memories.append(flat[position + 1] if lstm_other[k] else None)
                position += 2 if lstm_other[k] else 1
            return hiddens, memories

        flat_others = [t for pair in others for t in pair if t is not None]
        if self.tied and self.depth > 1:
            def body(carry, xs):
                hiddens, memories = split(xs or [])
                return block_step(self.blocks[0], carry, hiddens, memories)

            carry, outs = _scan(body, carry, [ops.zeros_like(t[0]) for t in flat_others],
                                xs=tuple(flat_others) or None, length=self.depth)
        else:
            outs = [[] for _ in flat_others]
            for d, block in enumerate(self.blocks):
                hiddens, memories = split([t[d] for t in flat_others])
                carry, out = block_step(block, carry, hiddens, memories)
                for column, value in zip(outs, out):
                    column.append(value)
            outs = [ops.stack(column) for column in outs]
        hiddens, memories = split(outs)
        return list(zip(hiddens, memories)), carry[0]

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "depth": self.depth,
            "kinds": list(self.kinds),
            "priority": list(self.priority) if self.priority else None,
            "tied": self.tied,
            "project_input": self.project_input,
            "activation": keras.activations.serialize(self.activation),
            "forget_bias": self.forget_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config


_STACK_ARGS = """        units: size of every hidden and memory vector of the blocks.
        depth: the number of blocks along depth. Defaults to 1.
        kinds: `"lstm"`, `"plain"`, or one of them per dimension, in the
            order {order}. Defaults to `"lstm"`.
        priority: None, or dimension indices (in that order) computed last
            within each block, in turn; `({last},)` prioritises depth.
        tied: whether one block (one set of weights) serves every depth.
            Defaults to False: one block per depth.
        project_input: whether the input is projected to `units` (`x I`,
            no bias) before the first block; otherwise it goes in as it
            is, which needs `tied=False` or an input of `units` features.
            Defaults to True.
        activation: of the plain dimensions. Defaults to `"tanh"`.
        forget_bias: added to the initial forget-gate biases. Defaults to 1.
        kernel_initializer: initializer of the blocks' and the projection's
            kernels.
        bias_initializer: initializer of the blocks' biases."""


def _args(order, last):
    return _STACK_ARGS.format(order=order, last=last)


@keras.saving.register_keras_serializable(package="special_networks")
class GridLSTM1D(_GridLSTMStack):
    """A 1D Grid LSTM: LSTM blocks along depth only, a feed-forward network.

    From "Grid Long Short-Term Memory" (Kalchbrenner, Danihelka & Graves,
    ICLR 2016), as in its parity experiment. The input vector is projected in
    once, as the first block's hidden vector (its memory starts at zero);
    each of the `depth` blocks applies the LSTM transform to the hidden and
    memory vectors coming up from below; the output is the top block's
    hidden vector. With `tied=True` the same block is applied `depth`
    times: the paper's tied 1-LSTM, which learns the parity of up to 250
    bits with hundreds of layers (the weight count does not grow with
    `depth`, and the graph holds one block).

    Under a `mixed_float16` policy the products run in float16, the
    memories and gates in float32; the output is float16.

    Args:
{args}
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [B, F].

    Returns:
        [B, units]: the top block's hidden vector.

    Example:

    >>> bits = keras.Input((20,))
    >>> h = GridLSTM1D(64, depth=40, tied=True)(bits)
    >>> odd = keras.layers.Dense(1, activation="sigmoid")(h)
    """

    grid_dimensions = 1

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "GridLSTM1D: `inputs` must be [batch, features] with a known feature size; "
                f"received shape {tuple(input_shape)}."
            )
        self._build_stack(input_shape[-1])

    def call(self, inputs):
        _, top = self._run(self._project(inputs), [])
        return ops.cast(top, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)


GridLSTM1D.__doc__ = GridLSTM1D.__doc__.format(args=_args("(depth,)", 0))


@keras.saving.register_keras_serializable(package="special_networks")
class GridLSTM2DCell(_GridLSTMStack):
    """One time step of a 2D Grid LSTM, for `keras.layers.RNN` (or `GridLSTM2D`).

    From "Grid Long Short-Term Memory" (Kalchbrenner, Danihelka & Graves,
    ICLR 2016). A column of `depth` two-dimensional blocks (time,
    depth): block `d` reads the time hidden vector of block `d` at the
    previous step and the depth hidden vector of block `d - 1` below it
    (the projected input for the first), and passes its time vectors on to
    the next step and its depth vectors up. The step's output is the top
    block's depth hidden vector. Depth is a dimension of the grid, with its
    own memory, not a stack of Keras layers.

    Under a `mixed_float16` policy the products run in float16 while the
    memories, gates and states stay float32 (the cell's `compute_dtype` is
    float32).

    Args:
{args}
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [B, F] for one step.
        states: the time hidden vectors [B, depth*units] of the blocks,
            bottom first, then their time memories [B, depth*units]
            (absent when time is a plain dimension).

    Returns:
        `(output, states)`: output [B, units].

    Example:

    >>> digits = keras.Input((None, 10))
    >>> h = keras.layers.RNN(GridLSTM2DCell(64, depth=4, tied=True),
    ...                      return_sequences=True)(digits)
    """

    grid_dimensions = 2

    def __init__(self, units, depth=1, **kwargs):
        super().__init__(units, depth, **kwargs)
        time_lstm = self.kinds[0] == "lstm"
        self.state_size = [depth * units] * (2 if time_lstm else 1)
        self.output_size = units

    @property
    def compute_dtype(self):
        return state_dtype(self.dtype_policy)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "GridLSTM2DCell: `inputs` of one step must be [batch, features] with a known "
                f"feature size; received shape {tuple(input_shape)}."
            )
        self._build_stack(input_shape[-1])

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), self.compute_dtype) for size in self.state_size]

    def call(self, inputs, states, training=False):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        batch = ops.shape(inputs)[0]

        def per_depth(state):  # [B, D*u] -> [D, B, u]
            return ops.transpose(ops.reshape(state, (batch, self.depth, self.units)), (1, 0, 2))

        def back(state):
            return ops.reshape(ops.transpose(state, (1, 0, 2)), (batch, self.depth * self.units))

        time = (per_depth(states[0]), per_depth(states[1]) if len(states) > 1 else None)
        [(hidden, memory)], top = self._run(self._project(inputs), [time])
        return top, [back(hidden)] + ([back(memory)] if memory is not None else [])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)


GridLSTM2DCell.__doc__ = GridLSTM2DCell.__doc__.format(args=_args("(time, depth)", 1))


@keras.saving.register_keras_serializable(package="special_networks")
class GridLSTM2D(CellRNN):
    """A 2D Grid LSTM over a sequence: `keras.layers.RNN(GridLSTM2DCell(...))`.

    From "Grid Long Short-Term Memory" (Kalchbrenner, Danihelka & Graves,
    ICLR 2016): a grid of blocks over time x depth, LSTM along both (the
    paper's 2-LSTM; `tied=True` gives its tied 2-LSTM of the addition
    task). Each step's input comes in at the bottom of the depth dimension;
    the output at each step is the top block's depth hidden vector. Takes
    `GridLSTM2DCell`'s arguments and the RNN layer's (`return_sequences`,
    True by default, `return_state`, `go_backwards`, ...). Masked steps
    leave every state unchanged.

    Call arguments:
        inputs: [B, T, F].
        mask: optional [B, T] boolean mask.
        initial_state: optional states, as `GridLSTM2DCell` lists them.

    Returns:
        [B, T, units] (or [B, units] without `return_sequences`).

    Example:

    >>> digits = keras.Input((None, 10))
    >>> h = GridLSTM2D(64, depth=4, tied=True, priority=(1,))(digits)
    >>> next_digit = keras.layers.Dense(10, activation="softmax")(h)
    """

    cell_class = GridLSTM2DCell

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ValueError(
                "GridLSTM2D: `inputs` must be [batch, time, features]; received shape "
                f"{tuple(sequences_shape)}."
            )
        super().build(sequences_shape, initial_state_shape)


@keras.saving.register_keras_serializable(package="special_networks")
class GridLSTM3D(_GridLSTMStack):
    """A 3D Grid LSTM over an image: rows x columns x depth.

    From "Grid Long Short-Term Memory" (Kalchbrenner, Danihelka & Graves,
    ICLR 2016), as in its MNIST experiment. The image is cut into
    non-overlapping `block_size` blocks of pixels; the pixels of each block
    (flattened) are projected in at the bottom of the depth dimension at
    that position. The positions are visited row by row from the top left:
    block `d` at (r, c) reads the row vectors of block `d` at (r - 1, c),
    the column vectors of block `d` at (r, c - 1) and the depth vectors of
    block `d - 1` at (r, c). Along rows and columns the weights are shared
    (the same blocks everywhere); along depth they are tied or not.

    Under a `mixed_float16` policy the products run in float16, the
    memories and gates in float32; the output is float16.

    Args:
{args}
        block_size: (height, width) of the blocks of pixels, or one int for
            square blocks. Defaults to 2.
        return_grid: whether to return the top hidden vector of every
            position, [B, rows, columns, units], rather than that of the
            last position (bottom right), [B, units], which has seen the
            whole image. Defaults to False.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [B, H, W, C] with H, W and C known, H and W multiples of
            the block height and width.

    Returns:
        [B, units], or [B, H / height, W / width, units] with
        `return_grid`.

    Example:

    >>> image = keras.Input((28, 28, 1))
    >>> h = GridLSTM3D(50, depth=4, block_size=2, priority=(2,), return_grid=True)(image)
    >>> digit = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(h))
    """

    grid_dimensions = 3

    def __init__(self, units, depth=1, block_size=2, return_grid=False, **kwargs):
        super().__init__(units, depth, **kwargs)
        sizes = (block_size, block_size) if isinstance(block_size, int) else block_size
        if (not isinstance(sizes, (list, tuple)) or len(sizes) != 2
                or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes)):
            raise ValueError(
                "GridLSTM3D: `block_size` must be a positive int or a pair of them (height, width); "
                f"received {block_size!r}."
            )
        self.block_size = tuple(sizes)
        self.return_grid = bool(return_grid)

    def _grid_shape(self, input_shape):
        if len(input_shape) != 4 or any(s is None for s in input_shape[1:]):
            raise ValueError(
                "GridLSTM3D: `inputs` must be [batch, height, width, channels] with known height, "
                f"width and channels; received shape {tuple(input_shape)}."
            )
        (height, width), (bh, bw) = input_shape[1:3], self.block_size
        if height % bh or width % bw:
            raise ValueError(
                f"GridLSTM3D: the image's height and width ({height}, {width}) must be multiples of "
                f"`block_size` {self.block_size}; received `inputs` of shape {tuple(input_shape)}."
            )
        return height // bh, width // bw, bh * bw * input_shape[3]

    def build(self, input_shape):
        self._build_stack(self._grid_shape(input_shape)[2])

    def call(self, inputs):
        rows, columns, features = self._grid_shape(inputs.shape)
        (bh, bw), u, depth = self.block_size, self.units, self.depth
        batch = ops.shape(inputs)[0]
        blocks = ops.reshape(inputs, (batch, rows, bh, columns, bw, inputs.shape[3]))
        blocks = ops.reshape(ops.transpose(blocks, (0, 1, 3, 2, 4, 5)), (batch, rows, columns, features))
        first = self._project(blocks)  # [B, R, C, s]
        first = ops.transpose(first, (1, 2, 0, 3))  # [R, C, B, s]
        dtype = first.dtype
        row_lstm, column_lstm = self.kinds[0] == "lstm", self.kinds[1] == "lstm"

        def zeros(*shape):
            return ops.zeros(shape, dtype)

        row_states = 2 if row_lstm else 1
        column_states = 2 if column_lstm else 1

        def row_step(above, row_inputs):
            """One row of positions; `above`: the row vectors coming down from the row above."""
            def position_step(left, xs):
                x, above_h, above_m = xs[0], xs[1], xs[2] if row_lstm else None
                others = [(above_h, above_m), (left[0], left[1] if column_lstm else None)]
                [(row_h, row_m), (col_h, col_m)], top = self._run(x, others)
                left = [col_h] + ([col_m] if column_lstm else [])
                return left, [row_h] + ([row_m] if row_lstm else []) + [top]

            left = [zeros(depth, batch, u)] * column_states
            _, out = _scan(position_step, left, [zeros(depth, batch, u)] * row_states + [zeros(batch, u)],
                           xs=(row_inputs,) + tuple(above))
            return out[:-1], [out[-1]]

        above = [zeros(columns, depth, batch, u)] * row_states
        _, [tops] = _scan(row_step, above, [zeros(columns, batch, u)], xs=first)  # [R, C, B, u]
        if self.return_grid:
            output = ops.transpose(tops, (2, 0, 1, 3))
        else:
            output = tops[-1, -1]
        return ops.cast(output, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        rows, columns, _ = self._grid_shape(input_shape)
        if self.return_grid:
            return (input_shape[0], rows, columns, self.units)
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"block_size": list(self.block_size), "return_grid": self.return_grid})
        return config


GridLSTM3D.__doc__ = GridLSTM3D.__doc__.format(args=_args("(rows, columns, depth)", 2))
