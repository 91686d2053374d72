"""The decoder of a pointer network: teacher forcing, greedy and beam search."""

import keras
from keras import ops

from custom_layers.pointer_attention import MASKED_LOGIT, PointerAttention


@keras.saving.register_keras_serializable(package="special_networks")
class PointerDecoder(keras.layers.Layer):
    """LSTM decoder that points at its input's elements, one per step.

    From "Pointer Networks" (Vinyals, Fortunato & Jaitly, NIPS 2015). Each
    step feeds the element chosen at the previous step back (its features
    and its encoding, projected), runs an LSTM cell, optionally reads the
    encoder outputs with `glimpses` attention glimpses (Bello et al., 2016)
    and points with `PointerAttention`, queried by the cell's state and the
    last glimpse. Elements chosen before are excluded, so every decoded
    sequence is a set of distinct elements. With `end_token`, a learned END
    key is appended as position N: pointing at it ends the sequence (convex
    hull), from the second step on. With `fixed_first`, element 0 is the
    given first output (a tour's start): it is the first step's input and
    is never chosen. The initial LSTM state is projected from the mean of
    the encoder outputs, so any encoder (LSTM or set attention) fits.

    Training calls it with the target indices (teacher forcing); `decode`
    runs greedy (`beam_width=1`) or beam search in the graph, for any
    number of elements N, also under XLA.

    Args:
        units: size of the LSTM state and of the fed-back element embedding.
        attention_units: hidden size of the glimpse and pointer attentions
            (default: `units`).
        glimpses: number of attention glimpses before pointing.
        end_token: append a learned END position N.
        fixed_first: element 0 starts every sequence and is not pointed at.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[encoded, features, targets]`: encoder outputs [B, N, D],
            the elements' input features [B, N, F], and the target indices
            [B, T] int (-1 after the end; END is N). Step t is fed
            `targets[:, t - 1]`.
        mask: Keras masks; the mask of `encoded` ([B, N], True = real
            element) hides padding.

    Returns:
        Log-probabilities of each step's choice, float32 [B, T, N] (N + 1
        with `end_token`).

    Example:

    >>> features = keras.Input((None, 2))
    >>> targets = keras.Input((None,), dtype="int32")
    >>> encoded = keras.layers.Dense(64)(features)
    >>> log_probs = PointerDecoder(64)([encoded, features, targets])
    """

    def __init__(self, units, attention_units=None, glimpses=1, end_token=False,
                 fixed_first=False, **kwargs):
        super().__init__(**kwargs)
        for arg, value, least in (("units", units, 1), ("glimpses", glimpses, 0)):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"PointerDecoder: `{arg}` must be an int >= {least}; "
                                 f"received {value!r}.")
        self.units = units
        self.attention_units = attention_units or units
        self.glimpses = glimpses
        self.end_token = bool(end_token)
        self.fixed_first = bool(fixed_first)
        self.supports_masking = True
        policy = self.dtype_policy  # sublayers do not inherit it
        self.embedding = keras.layers.Dense(units, name="element_embedding", dtype=policy)
        self.initial_state = keras.layers.Dense(2 * units, name="initial_state", dtype=policy)
        self.rnn = keras.layers.RNN(keras.layers.LSTMCell(units, dtype=policy),
                                    return_sequences=True, name="lstm", dtype=policy)
        self.glimpse_attentions = [
            PointerAttention(self.attention_units, name=f"glimpse_{i}", dtype=policy)
            for i in range(glimpses)
        ]
        self.pointer = PointerAttention(self.attention_units, name="pointer", dtype=policy)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 3:
            raise ValueError("PointerDecoder: `inputs` must be [encoded, features, targets]; "
                             f"received shapes {input_shape}.")
        encoded, features, targets = (tuple(s) for s in input_shape)
        if len(encoded) != 3 or len(features) != 3 or encoded[-1] is None or features[-1] is None:
            raise ValueError(
                "PointerDecoder: `encoded` and `features` must be (batch, elements, channels) "
                f"with known channels; received {encoded} and {features}.")
        if len(targets) != 2:
            raise ValueError(f"PointerDecoder: `targets` must be (batch, steps); received {targets}.")
        depth = encoded[-1]
        self.start = self.add_weight(name="start", shape=(self.units,), initializer="zeros")
        if self.end_token:
            self.end_key = self.add_weight(name="end_key", shape=(depth,),
                                           initializer="random_normal")
        self.embedding.build((None, None, depth + features[-1]))
        self.initial_state.build((None, depth))
        self.rnn.build((None, None, self.units))
        query = self.units
        for glimpse in self.glimpse_attentions:
            glimpse.build([(None, query), (None, None, depth)])
            query = depth
        pointer_query = self.units + (depth if self.glimpses else 0)
        self.pointer.build([(None, pointer_query), (None, None, depth)])

    # -- pieces shared by teacher forcing and decoding ----------------------

    def _start_state(self, encoded, mask):
        if mask is None:
            mean = ops.mean(encoded, axis=1)
        else:
            weights = ops.cast(mask, encoded.dtype)[..., None]
            mean = ops.sum(encoded * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1)
        h, c = ops.split(self.initial_state(mean), 2, axis=-1)
        return ops.tanh(h), c

    def _keys(self, encoded, mask):
        """Pointer keys (with END appended) and their mask."""
        if not self.end_token:
            return encoded, mask
        end = ops.broadcast_to(ops.cast(self.end_key, encoded.dtype),
                               (ops.shape(encoded)[0], 1, ops.shape(encoded)[2]))
        keys = ops.concatenate([encoded, end], axis=1)
        if mask is not None:
            mask = ops.concatenate([ops.cast(mask, "bool"), ops.ones_like(mask[:, :1], "bool")], 1)
        return keys, mask

    def _point(self, h, encoded, keys, mask, key_mask, excluded):
        """Log-probabilities over the keys for decoder state(s) `h`."""
        query = h
        element_excluded = excluded[..., :-1] if self.end_token else excluded
        for glimpse in self.glimpse_attentions:
            weights = ops.exp(glimpse([query, encoded], mask=[None, mask],
                                      excluded=element_excluded))
            query = ops.einsum("bn,bnd->bd" if len(h.shape) == 2 else "btn,bnd->btd",
                               ops.cast(weights, encoded.dtype), encoded)
        if self.glimpses:  # the state too: an unfocused glimpse would hide where we are
            query = ops.concatenate([h, ops.cast(query, h.dtype)], axis=-1)
        return self.pointer([query, keys], mask=[None, key_mask], excluded=excluded)

    def _first_excluded(self, batch, positions):
        excluded = ops.zeros((batch, positions), "bool")
        if self.fixed_first:
            excluded = ops.logical_or(excluded, ops.arange(positions)[None] == 0)
        return excluded

    # -- teacher forcing ----------------------------------------------------

    def call(self, inputs, mask=None):
        encoded, features, targets = inputs
        mask = mask[0] if isinstance(mask, (list, tuple)) else None
        targets = ops.cast(targets, "int32")
        n = ops.shape(encoded)[1]
        positions = n + 1 if self.end_token else n
        elements = self.embedding(ops.concatenate([encoded, ops.cast(features, encoded.dtype)], -1))
        # Step t is fed the element chosen at t - 1; step 0 the start (or element 0).
        previous = ops.concatenate([ops.full_like(targets[:, :1], -1), targets[:, :-1]], axis=1)
        if self.fixed_first:
            previous = ops.concatenate([ops.zeros_like(targets[:, :1]), targets[:, :-1]], axis=1)
        fed = self._gather(elements, previous, n)
        h, c = self._start_state(encoded, mask)
        states = self.rnn(fed, initial_state=[h, c])
        # Excluded at step t: elements chosen at steps < t (END never is).
        chosen = ops.one_hot(ops.where(previous >= n, -1, previous), positions, dtype="int32")
        excluded = ops.cumsum(chosen, axis=1) > 0
        if self.fixed_first:
            excluded = ops.logical_or(excluded, ops.arange(positions)[None, None] == 0)
        if self.end_token:  # a sequence has at least one element
            first_end = ops.logical_and(ops.arange(ops.shape(targets)[1])[:, None] == 0,
                                        ops.arange(positions)[None] == n)
            excluded = ops.logical_or(excluded, first_end[None])
        keys, key_mask = self._keys(encoded, mask)
        return self._point(states, encoded, keys, mask, key_mask, excluded)

    def _gather(self, elements, indices, n):
        """Embeddings of `indices` [B, T]; -1 and END give the start vector."""
        valid = ops.logical_and(indices >= 0, indices < n)
        picked = ops.take_along_axis(elements, ops.where(valid, indices, 0)[..., None], axis=1)
        start = ops.cast(self.start, elements.dtype)
        return ops.where(valid[..., None], picked, start)

    # -- decoding in the graph ----------------------------------------------

    def decode(self, encoded, features, mask=None, beam_width=1):
        """The most likely sequences: greedy (`beam_width=1`) or beam search.

        Returns (indices int32 [B, S], log_probability float32 [B]), where
        S = N (N - 1 with `fixed_first`; END and the steps after it are -1).
        """
        if not isinstance(beam_width, int) or beam_width < 1:
            raise ValueError(f"PointerDecoder.decode: `beam_width` must be an int >= 1; "
                             f"received {beam_width!r}.")
        if not self.built:
            self.build([tuple(encoded.shape), tuple(features.shape), (None, None)])
        k = beam_width
        batch, n = ops.shape(encoded)[0], ops.shape(encoded)[1]
        positions = n + 1 if self.end_token else n
        steps = n - 1 if self.fixed_first else n
        loops = steps + 1 if self.end_token else steps  # END itself takes a step
        tile = lambda x: ops.repeat(x, k, axis=0)  # noqa: E731  rows b*k .. b*k+k-1
        encoded = tile(encoded)
        features = ops.cast(tile(features), encoded.dtype)
        mask = None if mask is None else tile(mask)
        elements = self.embedding(ops.concatenate([encoded, features], -1))
        keys, key_mask = self._keys(encoded, mask)
        h, c = self._start_state(encoded, mask)
        first = ops.zeros((batch * k,), "int32") if self.fixed_first else ops.full((batch * k,), -1, "int32")
        x = self._gather(elements, first[:, None], n)[:, 0]
        scores = ops.tile(ops.concatenate([ops.zeros((1,)), ops.full((k - 1,), MASKED_LOGIT)])[None],
                          (batch, 1))
        excluded = self._first_excluded(batch * k, positions)
        finished = ops.zeros((batch * k,), "bool")
        sequences = ops.full((batch * k, loops), -1, "int32")
        end = n  # the END position
        offsets = ops.arange(batch, dtype="int32")[:, None] * k

        def body(t, state):
            x, h, c, scores, excluded, finished, sequences = state
            out, (h, c) = self.rnn.cell(x, [h, c])
            blocked = excluded
            if self.end_token:  # a sequence has at least one element
                blocked = ops.logical_or(excluded, ops.logical_and(
                    t == 0, ops.arange(positions)[None] == end))
            log_probs = self._point(out, encoded, keys, mask, key_mask, blocked)
            if self.end_token:  # a finished beam can only stay finished, at no cost
                only_end = ops.where(ops.arange(positions)[None] == end, 0.0, MASKED_LOGIT)
                log_probs = ops.where(finished[:, None], only_end, log_probs)
            total = ops.reshape(scores[..., None] + ops.reshape(log_probs, (batch, k, positions)),
                                (batch, k * positions))
            scores, best = ops.top_k(total, k)
            parent = ops.reshape(best // positions + offsets, (-1,))
            choice = ops.cast(ops.reshape(best % positions, (-1,)), "int32")
            h, c = ops.take(h, parent, axis=0), ops.take(c, parent, axis=0)
            excluded = ops.take(excluded, parent, axis=0)
            was_finished = ops.take(finished, parent, axis=0)
            sequences = ops.take(sequences, parent, axis=0)
            written = ops.where(ops.logical_or(was_finished, choice == end), -1, choice)
            sequences = ops.where(ops.arange(loops)[None] == t, written[:, None], sequences)
            picked = ops.one_hot(ops.where(choice == end, -1, choice), positions, dtype="int32") > 0
            excluded = ops.logical_or(excluded, picked)
            finished = ops.logical_or(was_finished, choice == end) if self.end_token else finished
            x = self._gather(elements, choice[:, None], n)[:, 0]
            return x, h, c, scores, excluded, finished, sequences

        def running(t, state):  # stop early once every beam has ended (END)
            return ops.logical_and(t < loops, ops.logical_not(ops.all(state[5])))

        def step(t, state):
            return t + 1, body(t, state)

        state = (x, h, c, scores, excluded, finished, sequences)
        _, (*_, scores, _, _, sequences) = ops.while_loop(running, step, (0, state))
        best = ops.reshape(sequences, (batch, k, loops))[:, 0, :steps]
        return best, scores[:, 0]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        encoded, _, targets = input_shape
        n = encoded[1]
        positions = None if n is None else n + int(self.end_token)
        return (targets[0], targets[1], positions)

    def compute_output_spec(self, inputs, mask=None):
        shape = self.compute_output_shape([inputs[0].shape, inputs[1].shape, inputs[2].shape])
        return keras.KerasTensor(shape, dtype="float64" if self.compute_dtype == "float64" else "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            attention_units=self.attention_units,
            glimpses=self.glimpses,
            end_token=self.end_token,
            fixed_first=self.fixed_first,
        )
        return config
