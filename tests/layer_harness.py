"""`run_layer_test`: what Keras's private `run_layer_test` checks, and more.

Every layer of the project goes through it: config and serialization round
trips, build and weight counts, symbolic and eager calls, a `fit` step,
`mixed_float16`, `tf.function` and `jit_compile=True` agreement, gradients
against central finite differences (in float64), `.keras` save/load and a
SavedModel round trip with equal outputs, and masks passed through.
"""

import numpy as np
import tensorflow as tf
import keras


def _multi(shape):
    return isinstance(shape, list)


# Inputs listed here (by position in a list of shapes) are int32, uniform
# in [low, high); set by `run_layer_test(integer_inputs=...)`.
_INTEGER_INPUTS = {}


def _random_inputs(shape, seed=0, index=0):
    """Standard-normal inputs of `shape`, or a list of them for a list of shapes."""
    if _multi(shape):
        return [_random_inputs(s, seed + i, i) for i, s in enumerate(shape)]
    rng = np.random.default_rng(seed)
    if index in _INTEGER_INPUTS:
        return rng.integers(*_INTEGER_INPUTS[index], size=shape).astype("int32")
    return rng.normal(size=shape).astype("float32")


def _symbolic(shape, index=0):
    if _multi(shape):
        return [_symbolic(s, i) for i, s in enumerate(shape)]
    dtype = "int32" if index in _INTEGER_INPUTS else "float32"
    return keras.Input(batch_shape=(None,) + tuple(shape[1:]), dtype=dtype)


def _batch(shape):
    return shape[0][0] if _multi(shape) else shape[0]


def check_config_round_trip(layer_cls, init_kwargs):
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config() lacks the argument {key!r}"
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("special_networks>"), serialized
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is layer_cls
    assert restored.get_config() == config


def check_build_and_calls(layer_cls, init_kwargs, input_shape, expected_output_shape,
                          trainable_weights, non_trainable_weights):
    layer = layer_cls(**init_kwargs)
    layer.build(input_shape)
    assert len(layer.trainable_weights) == trainable_weights
    assert len(layer.non_trainable_weights) == non_trainable_weights

    symbolic_out = layer_cls(**init_kwargs)(_symbolic(input_shape))
    assert tuple(symbolic_out.shape) == (None,) + tuple(expected_output_shape[1:])

    x = _random_inputs(input_shape)
    y = layer(x)
    assert tuple(y.shape) == tuple(expected_output_shape)
    assert tuple(layer.compute_output_shape(input_shape)) == tuple(expected_output_shape)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
    return layer, x, keras.ops.convert_to_numpy(y)


def check_compiled_calls(layer, x, eager_output, atol):
    graph = tf.function(layer)(x)
    np.testing.assert_allclose(graph.numpy(), eager_output, atol=atol)
    xla = tf.function(layer, jit_compile=True)(x)
    np.testing.assert_allclose(xla.numpy(), eager_output, atol=atol)


def _model_of(layer, input_shape):
    inputs = _symbolic(input_shape)
    return keras.Model(inputs, layer(inputs))


def check_fit_step(layer_cls, init_kwargs, input_shape):
    layer = layer_cls(**init_kwargs)
    model = _model_of(layer, input_shape)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = _random_inputs(input_shape, seed=1)
    target = _random_inputs((_batch(input_shape),) + tuple(model.output_shape[1:]), seed=2)
    before = [w.numpy().copy() for w in layer.trainable_weights]
    history = model.fit(x, target, epochs=1, batch_size=_batch(input_shape), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [w.numpy() for w in layer.trainable_weights]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after)), "a weight did not train"


def check_mixed_precision(layer_cls, init_kwargs, input_shape, reference_layer, rtol=2e-2,
                          atol=2e-2, output_dtype="float16"):
    layer = layer_cls(**init_kwargs, dtype="mixed_float16")
    layer.build(input_shape)
    assert all(w.dtype == "float32" for w in layer.weights), "variables must stay float32"
    layer.set_weights(reference_layer.get_weights())
    x = _random_inputs(input_shape)
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == output_dtype
    y = keras.ops.convert_to_numpy(y).astype("float32")
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(reference_layer(x)), rtol=rtol, atol=atol)


def check_gradients(layer_cls, init_kwargs, input_shape, samples=12, epsilon=1e-6, rtol=1e-4):
    """Gradients of a random projection of the output, w.r.t. every input and
    every weight, against central finite differences, all in float64."""
    layer = layer_cls(**init_kwargs, dtype="float64")
    inputs = _random_inputs(input_shape)
    inputs = [tf.constant(x if x.dtype.kind == "i" else x.astype("float64"))
              for x in (inputs if _multi(input_shape) else [inputs])]
    layer.build(input_shape)
    projection = tf.constant(
        np.random.default_rng(3).normal(size=layer.compute_output_shape(input_shape))
    )

    # Traced once: the hundreds of perturbed calls below would be slow eagerly.
    forward = tf.function(lambda call_inputs: layer(call_inputs if _multi(input_shape) else call_inputs[0]))

    def objective(values):
        """The objective with `values` for the inputs, then for the weights."""
        weights = layer.trainable_weights
        saved = [w.numpy() for w in weights]
        for weight, value in zip(weights, values[len(inputs):]):
            weight.assign(value)
        try:
            output = forward(list(values[: len(inputs)]))
            # Minus the unperturbed output: large constant outputs (masked
            # log-probabilities) would swamp the differences otherwise.
            return tf.reduce_sum((output - base_output) * projection)
        finally:
            for weight, value in zip(weights, saved):
                weight.assign(value)

    values = [x.numpy() for x in inputs] + [w.numpy() for w in layer.trainable_weights]
    base_output = tf.stop_gradient(layer(inputs if _multi(input_shape) else inputs[0]))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        output = layer(inputs if _multi(input_shape) else inputs[0])
        loss = tf.reduce_sum(output * projection)
    grads = tape.gradient(loss, inputs + [w.value for w in layer.trainable_weights])
    grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]  # IndexedSlices too
    rng = np.random.default_rng(4)
    for index, (base, grad) in enumerate(zip(values, grads)):
        if base.dtype.kind == "i":
            continue  # integer inputs (indices) have no gradient
        assert grad is not None, f"no gradient for variable {index}"
        for flat in rng.choice(base.size, size=min(samples, base.size), replace=False):
            position = np.unravel_index(flat, base.shape)
            shifted = []
            for sign in (1, -1):
                moved = [v.copy() for v in values]
                moved[index][position] += sign * epsilon
                shifted.append(objective([tf.constant(v) for v in moved]).numpy())
            numeric = (shifted[0] - shifted[1]) / (2 * epsilon)
            analytic = grad.numpy()[position]
            assert abs(numeric - analytic) <= rtol * max(1.0, abs(numeric)), (
                f"variable {index} at {position}: analytic {analytic}, numeric {numeric}"
            )


def check_keras_file_round_trip(layer, input_shape, tmp_path, atol):
    model = _model_of(layer, input_shape)
    x = _random_inputs(input_shape, seed=5)
    path = tmp_path / "layer.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=atol)


def check_saved_model_round_trip(layer, input_shape, tmp_path, atol):
    model = _model_of(layer, input_shape)
    x = _random_inputs(input_shape, seed=6)
    path = str(tmp_path / "saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    restored = tf.saved_model.load(path)
    served = restored.serve(x)
    np.testing.assert_allclose(served.numpy(), model.predict(x, verbose=0), atol=atol)


def check_masking(layer_cls, init_kwargs, input_shape):
    layer = layer_cls(**init_kwargs)
    x = _random_inputs(input_shape)
    mask = np.ones(input_shape[:2], dtype=bool)
    mask[:, -1] = False
    layer(x)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.compute_mask(x, mask)), mask
    )
    # Downstream, a GRU must ignore padded steps: padding changes nothing.
    inputs = keras.Input(batch_shape=(None, None) + tuple(input_shape[2:]))
    hidden = layer_cls(**init_kwargs)(keras.layers.Masking(0.0)(inputs))
    model = keras.Model(inputs, keras.layers.GRU(4)(hidden))
    padded = x.copy()
    padded[:, -1] = 0.0
    np.testing.assert_allclose(
        model.predict(padded, verbose=0), model.predict(x[:, :-1], verbose=0), atol=1e-5
    )


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    expected_num_trainable_weights,
    expected_num_non_trainable_weights=0,
    supports_masking=False,
    tmp_path=None,
    atol=1e-5,
    mixed_precision_output_dtype="float16",
    integer_inputs=None,
):
    """`integer_inputs` maps positions in a list of input shapes (0 for a single one) to the
    (low, high) range of int32 inputs there (indices)."""
    _INTEGER_INPUTS.clear()
    _INTEGER_INPUTS.update(integer_inputs or {})
    check_config_round_trip(layer_cls, init_kwargs)
    layer, x, y = check_build_and_calls(
        layer_cls, init_kwargs, input_shape, expected_output_shape,
        expected_num_trainable_weights, expected_num_non_trainable_weights,
    )
    check_compiled_calls(layer, x, y, atol)
    check_fit_step(layer_cls, init_kwargs, input_shape)
    check_mixed_precision(layer_cls, init_kwargs, input_shape, layer,
                          output_dtype=mixed_precision_output_dtype)
    check_gradients(layer_cls, init_kwargs, input_shape)
    if supports_masking and not _multi(input_shape):
        check_masking(layer_cls, init_kwargs, input_shape)
    if tmp_path is not None:
        check_keras_file_round_trip(layer, input_shape, tmp_path, atol)
        check_saved_model_round_trip(layer, input_shape, tmp_path, atol)
