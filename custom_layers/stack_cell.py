"""Stack-augmented RNN cell (Joulin & Mikolov, 2015)."""

import keras
from keras import ops

from custom_layers.cell_rnn import CellRNN

PUSH, POP, NO_OP = 0, 1, 2


def stack_update(stacks, actions, pushed, empty_value):
    """One continuous stack step.

    stacks [B,K,D,E] (top first), actions [B,K,3] (PUSH, POP, NO-OP
    probabilities), pushed [B,K,E] -> [B,K,D,E]:

        top      = push * pushed  + pop * s[1]   + no_op * s[0]
        s_new[i] = push * s[i-1]  + pop * s[i+1] + no_op * s[i]

    A pop at the bottom brings up `empty_value`."""
    bottom = ops.full_like(stacks[:, :, :1], empty_value)
    pushed_down = ops.concatenate([ops.expand_dims(pushed, 2), stacks[:, :, :-1]], axis=2)
    popped_up = ops.concatenate([stacks[:, :, 1:], bottom], axis=2)
    a = ops.expand_dims(ops.expand_dims(actions, 2), 3)  # [B,K,1,1,3]
    return a[..., PUSH] * pushed_down + a[..., POP] * popped_up + a[..., NO_OP] * stacks


@keras.saving.register_keras_serializable(package="special_networks")
class StackCell(keras.layers.Layer):
    """Stack RNN cell, for `keras.layers.RNN` (or `StackRNN`).

    From "Inferring Algorithmic Patterns with Stack-Augmented Recurrent
    Nets" (Joulin & Mikolov, NIPS 2015). A recurrent hidden layer

        h_t = activation(x_t U + h_{t-1} R + top_{t-1} P + b)

    controls `num_stacks` continuous stacks of `stack_depth` elements of
    size `element_size`. From `h_t` each stack takes a soft action
    (softmax over PUSH, POP, NO-OP) and a value to push,
    `sigmoid(h_t W_push)`; the stack becomes the mixture of the three
    outcomes. The `read_depth` top elements of every stack are fed back
    into the next hidden state. An empty position holds `empty_value` (-1,
    as in the paper).

    With `discrete_inference=True` the actions are rounded to the most
    likely one when `training=False`: the paper does this at test time to
    generalise to longer sequences. With `training_actions="straight_through"`
    training takes the same whole (argmax) actions in the forward pass and
    lets the gradient through the softmax (the straight-through estimator),
    so that training runs the stack that inference with
    `discrete_inference` runs; the default `"soft"` trains on the mixture,
    as the paper does.

    With `discrete_values=True` the pushed values are rounded to 0 or 1 too
    when `training=False`, so that the stacks hold symbols: with discrete
    actions and `recurrence="stack"` the hidden layer is then a function of
    the letter and the stacks' top symbols, a finite control, and no value
    can drift along a long string. (Rounding in training as well, with the
    straight-through gradient, did not fit a^n b^2n in our trials.)

    Under a `mixed_float16` policy the hidden layer runs in float16; the
    stacks, the actions and the states stay float32.

    Args:
        units: size of the hidden layer.
        num_stacks: K. Defaults to 1.
        stack_depth: D, the number of elements each stack holds.
        element_size: E, the size of each element. Defaults to 1 (the
            paper's scalars).
        read_depth: how many top elements of each stack feed the hidden
            layer. Defaults to 2.
        activation: of the hidden layer. Defaults to `"sigmoid"` (the paper).
        discrete_inference: take argmax actions when not training.
        training_actions: `"soft"` (default: the mixture) or
            `"straight_through"` (argmax actions forward, the softmax's
            gradient backward) when training.
        empty_value: the value of an empty position. Defaults to -1.
        discrete_values: round the pushed values to 0 or 1 when not
            training. Defaults to False (the paper's sigmoid values).
        recurrence: `"full"` (default: the `h_{t-1} R` term above) or
            `"stack"`: no `R`, so that the stacks' tops are the only path
            from one step to the next (the reference code's second kind
            of recurrence) and a count cannot hide in the hidden layer.
        kernel_initializer, recurrent_initializer: initializers of `U`, `P`,
            the action and push kernels, and of `R`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [B, F] for one step.
        states: the hidden state [B, units] and the stacks [B, K*D*E].
        training: whether the actions stay soft under `discrete_inference`
            (and the values unrounded under `discrete_values`).

    Returns:
        `(output, states)`: output [B, units], the hidden state.

    Example:

    >>> letters = keras.Input((None, 3))
    >>> h = keras.layers.RNN(StackCell(40, num_stacks=2, stack_depth=100),
    ...                      return_sequences=True)(letters)
    >>> next_letter = keras.layers.Dense(3, activation="softmax")(h)
    """

    def __init__(
        self,
        units,
        num_stacks=1,
        stack_depth=100,
        element_size=1,
        read_depth=2,
        activation="sigmoid",
        discrete_inference=False,
        empty_value=-1.0,
        training_actions="soft",
        recurrence="full",
        discrete_values=False,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("num_stacks", num_stacks),
                            ("stack_depth", stack_depth), ("element_size", element_size),
                            ("read_depth", read_depth)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"StackCell: `{name}` must be a positive integer; received {value!r}.")
        if read_depth > stack_depth:
            raise ValueError(
                f"StackCell: `read_depth` ({read_depth}) must not exceed `stack_depth` ({stack_depth})."
            )
        if training_actions not in ("soft", "straight_through"):
            raise ValueError(f"StackCell: `training_actions` must be 'soft' or 'straight_through'; "
                             f"received {training_actions!r}.")
        if recurrence not in ("full", "stack"):
            raise ValueError(f"StackCell: `recurrence` must be 'full' or 'stack'; received {recurrence!r}.")
        self.units = units
        self.recurrence = recurrence
        self.num_stacks = num_stacks
        self.stack_depth = stack_depth
        self.element_size = element_size
        self.read_depth = read_depth
        self.activation = keras.activations.get(activation)
        self.discrete_inference = bool(discrete_inference)
        self.discrete_values = bool(discrete_values)
        self.empty_value = float(empty_value)
        self.training_actions = training_actions
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.state_size = [units, num_stacks * stack_depth * element_size]
        self.output_size = units

    @property
    def compute_dtype(self):
        policy = self.dtype_policy.compute_dtype
        return "float32" if policy in ("float16", "bfloat16") else policy

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "StackCell: `inputs` of one step must be [batch, features] with a known feature "
                f"size; received shape {tuple(input_shape)}."
            )
        k, e = self.num_stacks, self.element_size
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = None
        if self.recurrence == "full":
            self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, self.units),
                                                    initializer=self.recurrent_initializer)
        self.stack_kernel = self.add_weight(name="stack_kernel",
                                            shape=(k * self.read_depth * e, self.units),
                                            initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.action_kernel = self.add_weight(name="action_kernel", shape=(self.units, k * 3),
                                             initializer=self.kernel_initializer)
        self.action_bias = self.add_weight(name="action_bias", shape=(k * 3,), initializer="zeros")
        self.push_kernel = self.add_weight(name="push_kernel", shape=(self.units, k * e),
                                           initializer=self.kernel_initializer)
        self.push_bias = self.add_weight(name="push_bias", shape=(k * e,), initializer="zeros")

    def get_initial_state(self, batch_size=None):
        dtype = self.compute_dtype
        return [
            ops.zeros((batch_size, self.units), dtype),
            ops.full((batch_size, self.state_size[1]), self.empty_value, dtype),
        ]

    def call(self, inputs, states, training=False):
        k, d, e = self.num_stacks, self.stack_depth, self.element_size
        hidden, stacks = states
        batch = ops.shape(inputs)[0]
        stacks = ops.reshape(stacks, (batch, k, d, e))
        top = ops.reshape(stacks[:, :, : self.read_depth], (batch, k * self.read_depth * e))

        low = self.dtype_policy.compute_dtype

        def project(x, kernel):
            return ops.matmul(ops.cast(x, low), ops.cast(kernel, low))

        pre_activation = project(inputs, self.kernel) + project(top, self.stack_kernel) + ops.cast(self.bias, low)
        if self.recurrent_kernel is not None:
            pre_activation = pre_activation + project(hidden, self.recurrent_kernel)
        hidden = self.activation(pre_activation)
        hidden = ops.cast(hidden, self.compute_dtype)
        logits = ops.reshape(ops.matmul(hidden, self.action_kernel) + self.action_bias, (batch, k, 3))
        actions = ops.softmax(logits, axis=-1)
        whole = ops.one_hot(ops.argmax(logits, axis=-1), 3, dtype=actions.dtype)
        if self.discrete_inference and not training:
            actions = whole
        elif training and self.training_actions == "straight_through":
            actions = actions + ops.stop_gradient(whole - actions)
        pushed = ops.sigmoid(ops.matmul(hidden, self.push_kernel) + self.push_bias)
        if self.discrete_values and not training:
            pushed = ops.round(pushed)
        stacks = stack_update(stacks, actions, ops.reshape(pushed, (batch, k, e)), self.empty_value)
        return hidden, [hidden, ops.reshape(stacks, (batch, k * d * e))]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "num_stacks": self.num_stacks,
            "stack_depth": self.stack_depth,
            "element_size": self.element_size,
            "read_depth": self.read_depth,
            "activation": keras.activations.serialize(self.activation),
            "discrete_inference": self.discrete_inference,
            "empty_value": self.empty_value,
            "training_actions": self.training_actions,
            "recurrence": self.recurrence,
            "discrete_values": self.discrete_values,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
        })
        return config


@keras.saving.register_keras_serializable(package="special_networks")
class StackRNN(CellRNN):
    """A stack RNN over a sequence: `keras.layers.RNN(StackCell(...))`.

    Takes `StackCell`'s arguments and the RNN layer's (`return_sequences`,
    True by default, ...). Masked steps leave the stacks unchanged.

    Call arguments:
        inputs: [B, T, F].
        mask: optional [B, T] boolean mask.
        training: soft actions when True (see `discrete_inference`).

    Returns:
        [B, T, units] (or [B, units] without `return_sequences`).

    Example:

    >>> letters = keras.Input((None, 3))
    >>> h = StackRNN(40, num_stacks=2, stack_depth=100, discrete_inference=True)(letters)
    """

    cell_class = StackCell
