import numpy as np
import pytest
import keras

from custom_layers import StackCell, StackRNN
from custom_layers.stack_cell import NO_OP, POP, PUSH, stack_update
from tests.layer_harness import run_layer_test


def test_stack_rnn_layer_harness(tmp_path):
    run_layer_test(
        StackRNN,
        {"units": 5, "num_stacks": 2, "stack_depth": 4, "element_size": 2},
        input_shape=(3, 6, 4),
        expected_output_shape=(3, 6, 5),
        expected_num_trainable_weights=8,
        supports_masking=True,
        tmp_path=tmp_path,
    )


def _action(kind, batch=1, stacks=1):
    actions = np.zeros((batch, stacks, 3))
    actions[..., kind] = 1.0
    return actions


def _update(stacks, kind, value):
    return np.asarray(stack_update(stacks, _action(kind), np.full((1, 1, 1), value), -1.0))


def test_push_then_pop_returns_the_value_and_the_stack_below():
    stacks = np.array([0.3, 0.6, -1.0, -1.0]).reshape(1, 1, 4, 1)
    pushed = _update(stacks, PUSH, 0.9)
    np.testing.assert_allclose(pushed.ravel(), [0.9, 0.3, 0.6, -1.0])
    popped = _update(pushed, POP, 0.5)
    np.testing.assert_allclose(popped.ravel(), stacks.ravel())


def test_no_op_keeps_the_stack_and_a_pop_at_the_bottom_brings_up_empty():
    stacks = np.array([0.2, 0.4, 0.8]).reshape(1, 1, 3, 1)
    np.testing.assert_allclose(_update(stacks, NO_OP, 0.7), stacks)
    empty = _update(_update(_update(stacks, POP, 0), POP, 0), POP, 0)
    np.testing.assert_allclose(empty.ravel(), [-1.0, -1.0, -1.0])


def test_soft_actions_mix_the_three_outcomes():
    rng = np.random.default_rng(0)
    stacks = rng.normal(size=(2, 3, 5, 2))
    actions = rng.dirichlet(np.ones(3), size=(2, 3))
    pushed = rng.normal(size=(2, 3, 2))
    ours = np.asarray(stack_update(stacks, actions, pushed, -1.0))
    for b in range(2):
        for k in range(3):
            s = stacks[b, k]
            push = np.vstack([pushed[b, k][None], s[:-1]])
            pop = np.vstack([s[1:], -np.ones((1, 2))])
            a = actions[b, k]
            np.testing.assert_allclose(ours[b, k], a[PUSH] * push + a[POP] * pop + a[NO_OP] * s)


def test_hidden_state_follows_the_paper_formula():
    cell = StackCell(4, num_stacks=2, stack_depth=3, read_depth=2)
    cell.build((None, 3))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3)).astype("float32")
    h0 = rng.normal(size=(2, 4)).astype("float32")
    stacks = rng.normal(size=(2, 2, 3, 1)).astype("float32")
    output, (h, new_stacks) = cell(x, [h0, stacks.reshape(2, -1)])
    top = stacks[:, :, :2].reshape(2, 4)
    expected = 1 / (1 + np.exp(-(x @ cell.kernel.numpy() + h0 @ cell.recurrent_kernel.numpy()
                                 + top @ cell.stack_kernel.numpy() + cell.bias.numpy())))
    np.testing.assert_allclose(np.asarray(output), expected, rtol=1e-5)
    logits = (expected @ cell.action_kernel.numpy() + cell.action_bias.numpy()).reshape(2, 2, 3)
    actions = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    pushed = 1 / (1 + np.exp(-(expected @ cell.push_kernel.numpy() + cell.push_bias.numpy())))
    want = np.asarray(stack_update(stacks, actions, pushed.reshape(2, 2, 1), -1.0))
    np.testing.assert_allclose(np.asarray(new_stacks), want.reshape(2, -1), rtol=1e-5, atol=1e-6)


def test_stack_only_recurrence_reaches_the_next_step_through_the_stacks_alone():
    cell = StackCell(4, num_stacks=2, stack_depth=3, read_depth=2, recurrence="stack")
    cell.build((None, 3))
    assert cell.recurrent_kernel is None and "recurrent_kernel" not in [w.name for w in cell.weights]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3)).astype("float32")
    stacks = rng.normal(size=(2, 2, 3, 1)).astype("float32").reshape(2, -1)
    first, _ = cell(x, [rng.normal(size=(2, 4)).astype("float32"), stacks])
    second, _ = cell(x, [rng.normal(size=(2, 4)).astype("float32"), stacks])
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    top = stacks.reshape(2, 2, 3)[:, :, :2].reshape(2, 4)
    expected = 1 / (1 + np.exp(-(x @ cell.kernel.numpy() + top @ cell.stack_kernel.numpy() + cell.bias.numpy())))
    np.testing.assert_allclose(np.asarray(first), expected, rtol=1e-5)
    assert StackCell.from_config(cell.get_config()).recurrence == "stack"
    with pytest.raises(ValueError, match="`recurrence`"):
        StackCell(4, recurrence="hidden")


def test_discrete_inference_takes_whole_actions_only_when_not_training():
    cell = StackCell(6, stack_depth=5, discrete_inference=True)
    cell.build((None, 2))
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 2)).astype("float32")
    states = [rng.normal(size=(8, 6)).astype("float32"),
              rng.uniform(size=(8, 5)).astype("float32")]
    stacks = states[1].reshape(8, 5)
    _, (_, inferred) = cell(x, states, training=False)
    inferred = np.asarray(inferred)
    bottom = -np.ones((8, 1), "float32")
    push_top_kept = np.isclose(inferred[:, 1:], stacks[:, :-1]).all(1)
    popped = np.isclose(inferred, np.hstack([stacks[:, 1:], bottom])).all(1)
    kept = np.isclose(inferred, stacks).all(1)
    assert np.all(push_top_kept | popped | kept)
    _, (_, trained) = cell(x, states, training=True)
    assert not np.allclose(np.asarray(trained), inferred)


def test_straight_through_training_runs_whole_actions_with_the_softmax_gradient():
    import tensorflow as tf

    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 2)).astype("float32")
    states = [rng.normal(size=(8, 6)).astype("float32"), rng.uniform(size=(8, 5)).astype("float32")]
    straight = StackCell(6, stack_depth=5, discrete_inference=True, training_actions="straight_through")
    straight.build((None, 2))
    _, (_, inferred) = straight(x, states, training=False)
    soft = StackCell.from_config({**straight.get_config(), "training_actions": "soft"})
    soft.build((None, 2))
    soft.set_weights(straight.get_weights())
    assert straight.get_config()["training_actions"] == "straight_through"
    with tf.GradientTape() as tape:
        _, (_, trained) = straight(x, states, training=True)
        value = tf.reduce_sum(trained ** 2)
    _, (_, mixed) = soft(x, states, training=True)
    np.testing.assert_allclose(np.asarray(trained), np.asarray(inferred), atol=1e-6)
    assert not np.allclose(np.asarray(mixed), np.asarray(inferred))
    gradient = tape.gradient(value, straight.action_kernel)
    assert gradient is not None and np.any(np.abs(np.asarray(gradient)) > 0)
    with pytest.raises(ValueError, match="`training_actions`"):
        StackCell(4, training_actions="hard")


def test_discrete_values_push_zero_or_one_only_when_not_training():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 2)).astype("float32")
    states = [rng.normal(size=(8, 6)).astype("float32"), -np.ones((8, 5), "float32")]
    cell = StackCell(6, stack_depth=5, discrete_inference=True, discrete_values=True)
    cell.build((None, 2))
    assert StackCell.from_config(cell.get_config()).discrete_values
    cell.action_bias.assign(np.array([50.0, 0.0, 0.0], "float32"))  # every example pushes
    _, (_, trained) = cell(x, states, training=True)
    _, (_, inferred) = cell(x, states, training=False)
    trained, inferred = np.asarray(trained), np.asarray(inferred)
    np.testing.assert_array_equal(inferred[:, 0] * (1 - inferred[:, 0]), 0.0)
    h = 1 / (1 + np.exp(-(x @ cell.kernel.numpy() + states[0] @ cell.recurrent_kernel.numpy()
                          - np.ones((8, 2)) @ cell.stack_kernel.numpy() + cell.bias.numpy())))
    values = 1 / (1 + np.exp(-(h @ cell.push_kernel.numpy() + cell.push_bias.numpy())))[:, 0]
    np.testing.assert_array_equal(inferred[:, 0], np.round(values))
    assert not np.allclose(trained[:, 0], np.round(trained[:, 0]))


def test_initial_stacks_are_empty():
    cell = StackCell(3, num_stacks=2, stack_depth=4)
    cell.build((None, 2))
    hidden, stacks = cell.get_initial_state(batch_size=2)
    np.testing.assert_array_equal(np.asarray(stacks), -np.ones((2, 8)))
    np.testing.assert_array_equal(np.asarray(hidden), np.zeros((2, 3)))


def test_mixed_precision_keeps_the_stacks_in_float32():
    cell = StackCell(4, stack_depth=3, dtype="mixed_float16")
    cell.build((None, 2))
    _, states = cell(np.ones((2, 2), "float32"), cell.get_initial_state(batch_size=2))
    assert all(keras.backend.standardize_dtype(t.dtype) == "float32" for t in states)
    layer = StackRNN(4, stack_depth=3, dtype="mixed_float16")
    assert keras.backend.standardize_dtype(layer(np.ones((2, 3, 2), "float32")).dtype) == "float16"


def test_masked_steps_leave_the_stacks_unchanged():
    layer = StackRNN(4, stack_depth=6, return_state=True)
    x = np.random.default_rng(3).normal(size=(2, 5, 2)).astype("float32")
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    _, *masked = layer(x, mask=mask)
    _, *short = layer(x[:, :3])
    for a, b in zip(masked, short):
        np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b)[1], atol=1e-6)


@pytest.mark.parametrize("kwargs,message", [
    ({"units": 0}, "`units`"),
    ({"num_stacks": 0}, "`num_stacks`"),
    ({"stack_depth": 1.5}, "`stack_depth`"),
    ({"element_size": -2}, "`element_size`"),
    ({"read_depth": 0}, "`read_depth`"),
    ({"read_depth": 5, "stack_depth": 4}, "`read_depth`"),
])
def test_bad_sizes_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StackCell(**{"units": 4, **kwargs})


def test_a_step_input_of_the_wrong_rank_is_named():
    with pytest.raises(ValueError, match="`inputs` of one step"):
        StackCell(3).build((None, 4, 2))
