import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers import GridLSTM1D, GridLSTM2D, GridLSTM2DCell, GridLSTM3D, GridLSTMCell
from tests.layer_harness import run_layer_test


def test_grid_lstm1d_layer_harness(tmp_path):
    run_layer_test(
        GridLSTM1D,
        {"units": 4, "depth": 3, "tied": True},
        input_shape=(3, 5),
        expected_output_shape=(3, 4),
        expected_num_trainable_weights=3,  # the projection, one block's kernel and bias
        tmp_path=tmp_path,
    )


def test_grid_lstm2d_layer_harness(tmp_path):
    run_layer_test(
        GridLSTM2D,
        {"units": 4, "depth": 2, "priority": [1]},
        input_shape=(3, 4, 5),
        expected_output_shape=(3, 4, 4),
        expected_num_trainable_weights=9,  # the projection, 2 blocks x 2 dimensions x (kernel, bias)
        supports_masking=True,
        tmp_path=tmp_path,
    )


def test_grid_lstm3d_layer_harness(tmp_path):
    run_layer_test(
        GridLSTM3D,
        {"units": 3, "depth": 2, "tied": True, "kinds": ["lstm", "plain", "lstm"], "block_size": [2, 1],
         "return_grid": True},
        input_shape=(2, 4, 3, 2),
        expected_output_shape=(2, 2, 3, 3),
        expected_num_trainable_weights=7,  # the projection, one block: 3 dimensions x (kernel, bias)
        tmp_path=tmp_path,
    )


# NumPy references: the paper's equations, written out independently of the layers.

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_block(hiddens, memories, kernels, biases, kinds, priority=()):
    """Eqs. 3-5 (a plain dimension: tanh(H V + b), no memory): the dimensions not
    prioritised read H = [h_1; ...; h_N]; then each prioritised one reads H
    with the outputs of those computed before it."""
    n = len(hiddens)
    out_h, out_m = [None] * n, [None] * n
    stages = [[i for i in range(n) if i not in priority]] + [[p] for p in priority]
    for stage in stages:
        shared = np.concatenate([hiddens[j] if out_h[j] is None else out_h[j] for j in range(n)], -1)
        for i in stage:
            z = shared @ kernels[i] + biases[i]
            if kinds[i] == "plain":
                out_h[i] = np.tanh(z)
                continue
            gi, gf, gc, go = np.split(z, 4, axis=-1)
            out_m[i] = _sigmoid(gf) * memories[i] + _sigmoid(gi) * np.tanh(gc)
            out_h[i] = np.tanh(_sigmoid(go) * out_m[i])
    return out_h, out_m


def _weights(block):
    return ([k.numpy().astype("float64") for k in block.kernels],
            [b.numpy().astype("float64") for b in block.biases])


def _randomise(layer, seed=0):
    """Random weights everywhere (the biases start at 0 and 1 otherwise)."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])


def _block_reference(block, hiddens, memories):
    kernels, biases = _weights(block)
    return _numpy_block(hiddens, memories, kernels, biases, block.kinds, block.priority)


@pytest.mark.parametrize("kinds,priority", [
    (("lstm", "lstm"), None),
    (("lstm", "plain", "lstm"), (2, 0)),
    (("plain", "lstm", "lstm"), (1,)),
])
def test_one_block_step_matches_the_paper(kinds, priority):
    n = len(kinds)
    block = GridLSTMCell(4, n, kinds=kinds, priority=priority)
    rng = np.random.default_rng(1)
    hiddens = [rng.normal(size=(2, s)) for s in (3, 5, 4)[:n]]  # incoming sizes need not be `units`
    memories = [rng.normal(size=(2, 4)) if k == "lstm" else None for k in kinds]
    inputs = [h.astype("float32") for h in hiddens] + [m.astype("float32") for m in memories if m is not None]
    block.build([x.shape for x in inputs])
    _randomise(block)
    outputs = [np.asarray(o) for o in block(inputs)]
    want_h, want_m = _block_reference(block, hiddens, memories)
    want = want_h + [m for m in want_m if m is not None]
    assert len(outputs) == len(want) == n + sum(k == "lstm" for k in kinds)
    for got, expected in zip(outputs, want):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_prioritised_dimension_reads_the_others_outputs():
    # Its kernel rows for the other dimensions face their outputs (`units` wide), not their inputs.
    block = GridLSTMCell(4, 3, priority=(2,))
    block.build([(None, 7), (None, 6), (None, 5)] + [(None, 4)] * 3)
    assert [tuple(k.shape) for k in block.kernels] == [(18, 16), (18, 16), (4 + 4 + 5, 16)]
    forget = block.biases[0].numpy()
    np.testing.assert_array_equal(forget[4:8], 1.0)  # forget_bias
    np.testing.assert_array_equal(np.delete(forget, np.s_[4:8]), 0.0)


def test_every_kernel_starts_from_its_own_draw():
    # One unseeded initializer instance would draw the same values for every kernel of a shape.
    block = GridLSTMCell(4, 2)
    block.build([(None, 4)] * 4)
    assert not np.allclose(block.kernels[0].numpy(), block.kernels[1].numpy())
    layer = GridLSTM1D(4, depth=3, kernel_initializer=keras.initializers.GlorotUniform())
    layer.build((None, 4))
    kernels = [b.kernels[0].numpy() for b in layer.blocks]
    assert not np.allclose(kernels[0], kernels[1]) and not np.allclose(kernels[1], kernels[2])


def test_grid_lstm1d_runs_the_block_up_the_depth():
    x = np.random.default_rng(2).normal(size=(3, 5)).astype("float32")
    for tied in (True, False):
        layer = GridLSTM1D(4, depth=3, tied=tied)
        layer.build(x.shape)
        _randomise(layer)
        h, m = x.astype("float64") @ layer.input_kernel.numpy(), np.zeros((3, 4))
        for d in range(3):
            [h], [m] = _block_reference(layer.blocks[0 if tied else d], [h], [m])
        np.testing.assert_allclose(np.asarray(layer(x)), h, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tied,kinds,priority", [(False, "lstm", (1,)), (True, ("plain", "lstm"), None)])
def test_grid_lstm2d_wires_time_and_depth(tied, kinds, priority):
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype("float32")
    layer = GridLSTM2D(5, depth=3, tied=tied, kinds=kinds, priority=priority)
    layer.build(x.shape)
    _randomise(layer)
    cell = layer.cell
    time_lstm = cell.kinds[0] == "lstm"
    h_time = [np.zeros((2, 5))] * 3
    m_time = [np.zeros((2, 5)) if time_lstm else None] * 3
    outputs = []
    for t in range(4):
        h, m = x[:, t].astype("float64") @ cell.input_kernel.numpy(), np.zeros((2, 5))
        for d in range(3):
            (h_time[d], h), (m_time[d], m) = _block_reference(cell.blocks[0 if tied else d],
                                                              [h_time[d], h], [m_time[d], m])
        outputs.append(h)
    np.testing.assert_allclose(np.asarray(layer(x)), np.stack(outputs, 1), rtol=1e-5, atol=1e-5)


def test_grid_lstm3d_wires_rows_columns_and_depth():
    rng = np.random.default_rng(4)
    image = rng.normal(size=(2, 4, 6, 2)).astype("float32")
    layer = GridLSTM3D(3, depth=2, block_size=(2, 3), priority=(2,), return_grid=True)
    layer.build(image.shape)
    _randomise(layer)
    above = [[np.zeros((2, 3))] * 2 for _ in range(2)]  # [column][depth] (h, m) coming down
    above_m = [[np.zeros((2, 3))] * 2 for _ in range(2)]
    grid = np.zeros((2, 2, 2, 3))
    for r in range(2):
        left, left_m = [np.zeros((2, 3))] * 2, [np.zeros((2, 3))] * 2
        for c in range(2):
            pixels = image[:, 2 * r: 2 * r + 2, 3 * c: 3 * c + 3].reshape(2, -1).astype("float64")
            h, m = pixels @ layer.input_kernel.numpy(), np.zeros((2, 3))
            for d in range(2):
                hs, ms = _block_reference(layer.blocks[d], [above[c][d], left[d], h],
                                          [above_m[c][d], left_m[d], m])
                (above[c][d], left[d], h), (above_m[c][d], left_m[d], m) = hs, ms
            grid[:, r, c] = h
    np.testing.assert_allclose(np.asarray(layer(image)), grid, rtol=1e-5, atol=1e-5)
    last = GridLSTM3D.from_config({**layer.get_config(), "return_grid": False})
    last.build(image.shape)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(last(image)), grid[:, -1, -1], rtol=1e-5, atol=1e-5)
    assert last.compute_output_shape(image.shape) == (2, 3)


def test_tied_weights_are_one_block_whatever_the_depth():
    counts = set()
    for depth in (1, 2, 7):
        layer = GridLSTM1D(5, depth=depth, tied=True)
        layer.build((None, 3))
        counts.add(layer.count_params())
        two_d = GridLSTM2D(5, depth=depth, tied=True)
        two_d.build((None, None, 3))
        counts.add(("2d", len(two_d.trainable_weights)))
    assert counts == {3 * 5 + 5 * 20 + 20, ("2d", 5)}
    untied = GridLSTM1D(5, depth=7)
    untied.build((None, 3))
    assert untied.count_params() == 3 * 5 + 7 * (5 * 20 + 20)

    # The tied layer is the untied one with every block a copy of its block;
    # the gradient of the shared weights is the sum of the copies' gradients.
    x = tf.constant(np.random.default_rng(5).normal(size=(4, 3)).astype("float32"))
    tied, untied = GridLSTM1D(5, depth=4, tied=True), GridLSTM1D(5, depth=4)
    tied.build(x.shape)
    untied.build(x.shape)
    _randomise(tied)
    untied.input_kernel.assign(tied.input_kernel)
    for block in untied.blocks:
        block.set_weights(tied.blocks[0].get_weights())
    with tf.GradientTape(persistent=True) as tape:
        y_tied, y_untied = tied(x), untied(x)
        loss_tied, loss_untied = tf.reduce_sum(y_tied ** 2), tf.reduce_sum(y_untied ** 2)
    np.testing.assert_allclose(y_tied.numpy(), y_untied.numpy(), rtol=1e-6, atol=1e-6)
    shared = tape.gradient(loss_tied, tied.blocks[0].kernels[0])
    copies = tape.gradient(loss_untied, [b.kernels[0] for b in untied.blocks])
    np.testing.assert_allclose(shared.numpy(), sum(g.numpy() for g in copies), rtol=1e-4, atol=1e-6)


def test_hundreds_of_tied_layers_hold_one_block_and_pass_gradients():
    layer = GridLSTM1D(8, depth=300, tied=True, project_input=False)  # 8 input features = units
    x = tf.constant(np.random.default_rng(6).integers(0, 2, size=(2, 8)).astype("float32"))

    @tf.function(jit_compile=True)
    def gradients(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x))
        return tape.gradient(loss, [x] + layer.trainable_weights)

    grads = gradients(x)
    assert len(layer.trainable_weights) == 2
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert np.abs(grads[0].numpy()).max() > 0  # the input still reaches the top


def test_masked_steps_leave_every_state_unchanged():
    layer = GridLSTM2D(4, depth=2, return_state=True)
    x = np.random.default_rng(7).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[True] * 5, [True, True, False, False, False]])
    _, *masked = layer(x, mask=mask)
    _, *short = layer(x[:, :2])
    assert len(masked) == 2  # time hidden vectors and memories of both depths
    for a, b in zip(masked, short):
        np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b)[1], atol=1e-6)
        assert not np.allclose(np.asarray(a)[0], np.asarray(b)[0])


def test_mixed_precision_keeps_memories_and_states_in_float32():
    block = GridLSTMCell(4, 2, dtype="mixed_float16")
    zeros = np.zeros((2, 4), "float32")
    outputs = block([np.ones((2, 3), "float32"), np.ones((2, 4), "float32"), zeros, zeros])
    assert all(keras.backend.standardize_dtype(o.dtype) == "float32" for o in outputs)
    assert block.kernels[0].dtype == "float32"
    cell = GridLSTM2DCell(4, depth=2, dtype="mixed_float16")
    cell.build((None, 3))
    assert cell.compute_dtype == "float32"
    _, states = cell(np.ones((2, 3), "float32"), cell.get_initial_state(batch_size=2))
    assert all(keras.backend.standardize_dtype(s.dtype) == "float32" for s in states)
    deep = GridLSTM1D(4, depth=50, tied=True, dtype="mixed_float16")
    y = deep(np.ones((2, 3), "float32"))
    assert keras.backend.standardize_dtype(y.dtype) == "float16" and np.all(np.isfinite(np.asarray(y)))


@pytest.mark.parametrize("make,message", [
    (lambda: GridLSTMCell(0), "`units`"),
    (lambda: GridLSTMCell(4, dimensions=0), "`dimensions`"),
    (lambda: GridLSTMCell(4, kinds="gru"), "`kinds`"),
    (lambda: GridLSTMCell(4, dimensions=3, kinds=("lstm", "plain")), "`kinds`"),
    (lambda: GridLSTMCell(4, dimensions=2, priority=(1, 1)), "`priority`"),
    (lambda: GridLSTMCell(4, dimensions=2, priority=(2,)), "`priority`"),
    (lambda: GridLSTMCell(4, dimensions=2, priority=1), "`priority`"),
    (lambda: GridLSTM1D(-3), "`units`"),
    (lambda: GridLSTM2D(4, depth=0), "`depth`"),
    (lambda: GridLSTM2D(4, kinds=("lstm", "lstm", "lstm")), "`kinds`"),
    (lambda: GridLSTM3D(4, priority=(0, 3)), "`priority`"),
    (lambda: GridLSTM1D(4, tied="yes"), "`tied`"),
    (lambda: GridLSTM3D(4, block_size=(2, 0)), "`block_size`"),
])
def test_bad_specs_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_tied_blocks_need_matching_sizes_along_depth():
    with pytest.raises(ValueError, match="`tied=True`.*`units` \\(4\\).*received 5 input features"):
        GridLSTM1D(4, depth=3, tied=True, project_input=False)(np.ones((2, 5), "float32"))
    # Untied, or one block, or matching sizes: the first block takes the input as it is.
    for layer in (GridLSTM1D(4, depth=3, project_input=False), GridLSTM1D(4, tied=True, project_input=False)):
        assert layer(np.ones((2, 5), "float32")).shape == (2, 4)
    two_d = GridLSTM2D(4, depth=2, tied=True, project_input=False)
    assert two_d(np.ones((2, 3, 4), "float32")).shape == (2, 3, 4)


@pytest.mark.parametrize("make,shape,message", [
    (lambda: GridLSTM1D(4), (None, 3, 5), "`inputs` must be \\[batch, features\\]"),
    (lambda: GridLSTM2DCell(4), (None, 3, 5), "`inputs` of one step"),
    (lambda: GridLSTM3D(4), (None, 8, 8), "`inputs` must be \\[batch, height, width, channels\\]"),
    (lambda: GridLSTM3D(4, block_size=3), (None, 8, 9, 1), "multiples of `block_size`"),
    (lambda: GridLSTMCell(4), [(None, 3), (None, 3), (None, 4)], "2 hidden vectors and 2 memory"),
    (lambda: GridLSTMCell(4), [(None, 3), (None, 3, 1), (None, 4), (None, 4)], "position 1"),
    (lambda: GridLSTMCell(4), [(None, 3), (None, 3), (None, 4), (None, 5)], "`units` \\(4\\)"),
])
def test_wrong_input_shapes_are_named(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make().build(shape)


def test_a_sequence_layer_names_a_wrong_rank():
    with pytest.raises(ValueError, match="`inputs` must be \\[batch, time, features\\]"):
        GridLSTM2D(4)(np.ones((2, 5), "float32"))


def test_a_tied_1d_grid_lstm_fits_6_bit_parity():
    """The paper's parity set-up in small: the bits projected in once, one
    tied block applied 6 times. Parity is not linearly separable, and 58 or
    more of the 64 strings right by chance has a probability of about 5e-12."""
    keras.utils.set_random_seed(0)
    bits = np.array(list(itertools.product([0, 1], repeat=6)), "float32")
    odd = bits.sum(1) % 2
    inputs = keras.Input((6,))
    hidden = GridLSTM1D(32, depth=6, tied=True)(inputs)  # 8 of 8 seeds tried: >= 98% right
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"], jit_compile=True)
    steps = 300
    model.fit(np.tile(bits, (steps, 1)), np.tile(odd, steps), batch_size=64, shuffle=False, verbose=0)
    _, accuracy = model.evaluate(bits, odd, verbose=0)
    assert accuracy >= 0.9
