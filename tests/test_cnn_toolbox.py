"""The CNN toolbox layers: reflection padding, L2 pooling, max pooling with
switches and max unpooling, against NumPy references."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers import (
    L2Pooling2D, MaxPoolingWithArgmax2D, MaxUnpooling2D, ReflectionPadding1D, ReflectionPadding2D)
from tests.layer_harness import check_config_round_trip, run_layer_test

RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(2, 7, 9, 3)).astype("float32")  # odd sizes, a batch, channels

# (pool_size, strides, padding): whole, overlapping, odd-sized and uneven windows
POOLS = [
    (2, 2, "valid"), (2, 2, "same"), (3, 2, "valid"), (3, 2, "same"), (3, 1, "same"),
    ((2, 3), (1, 2), "valid"), ((3, 2), (2, 3), "same"), (1, 1, "valid"),
]


# ---------------------------------------------------------------- references

def _windows(shape, pool_size, strides, padding):
    """Yields (i, j, rows, cols): output position and the input rows and
    columns of its window (inside the input), as TensorFlow pads."""
    (kh, kw), (sh, sw) = [(v, v) if isinstance(v, int) else v for v in (pool_size, strides)]
    height, width = shape[1], shape[2]
    if padding == "valid":
        out_h, out_w, top, left = (height - kh) // sh + 1, (width - kw) // sw + 1, 0, 0
    else:
        out_h, out_w = -(-height // sh), -(-width // sw)
        top = max((out_h - 1) * sh + kh - height, 0) // 2
        left = max((out_w - 1) * sw + kw - width, 0) // 2
    for i in range(out_h):
        for j in range(out_w):
            rows = [r for r in range(i * sh - top, i * sh - top + kh) if 0 <= r < height]
            cols = [c for c in range(j * sw - left, j * sw - left + kw) if 0 <= c < width]
            yield i, j, rows, cols, (out_h, out_w)


def numpy_max_pool_with_argmax(x, pool_size, strides, padding):
    windows = list(_windows(x.shape, pool_size, strides, padding))
    out_h, out_w = windows[0][4]
    batch, _, width, channels = x.shape
    pooled = np.zeros((batch, out_h, out_w, channels), x.dtype)
    switches = np.zeros((batch, out_h, out_w, channels), np.int64)
    for b in range(batch):
        for i, j, rows, cols, _ in windows:
            for c in range(channels):
                best = None
                for r in rows:  # row-major: the first maximum wins
                    for q in cols:
                        if best is None or x[b, r, q, c] > x[b, best[0], best[1], c]:
                            best = (r, q)
                pooled[b, i, j, c] = x[b, best[0], best[1], c]
                switches[b, i, j, c] = (best[0] * width + best[1]) * channels + c
    return pooled, switches


def numpy_l2_pool(x, pool_size, strides, padding):
    windows = list(_windows(x.shape, pool_size, strides, padding))
    out_h, out_w = windows[0][4]
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))
    for i, j, rows, cols, _ in windows:
        patch = x[:, rows][:, :, cols].astype("float64")
        out[:, i, j] = np.sqrt(np.mean(patch ** 2, axis=(1, 2)))
    return out


def numpy_unpool(values, switches, height, width):
    batch, _, _, channels = values.shape
    out = np.full((batch, height * width * channels), -np.inf)
    for b in range(batch):
        for value, switch in zip(values[b].ravel(), switches[b].ravel()):
            out[b, switch] = max(out[b, switch], value)
    out[np.isinf(out)] = 0.0
    return out.reshape(batch, height, width, channels)


# ---------------------------------------------------------------- reflection padding

@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
@pytest.mark.parametrize("padding", [1, (2, 0), (0, 3), (3, 4)])
def test_reflection_padding_1d_is_numpy_pad(mode, padding):
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    before, after = (padding, padding) if isinstance(padding, int) else padding
    if mode == "reflect" and max(before, after) > 4:
        pytest.skip("reflect needs padding < length")
    expected = np.pad(x, [(0, 0), (before, after), (0, 0)], mode=mode)
    layer = ReflectionPadding1D(padding, mode=mode)
    np.testing.assert_array_equal(layer(x).numpy(), expected)
    np.testing.assert_array_equal(tf.function(layer, jit_compile=True)(x).numpy(), expected)


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
@pytest.mark.parametrize("padding,widths", [
    (2, ((2, 2), (2, 2))), ((1, 3), ((1, 1), (3, 3))), (((0, 2), (3, 1)), ((0, 2), (3, 1))),
    (((6, 0), (0, 8)), ((6, 0), (0, 8))),
])
def test_reflection_padding_2d_is_numpy_pad(mode, padding, widths):
    expected = np.pad(IMAGES, [(0, 0), *widths, (0, 0)], mode=mode)
    layer = ReflectionPadding2D(padding, mode=mode)
    out = layer(IMAGES).numpy()
    np.testing.assert_array_equal(out, expected)
    assert layer.compute_output_shape(IMAGES.shape) == expected.shape
    np.testing.assert_array_equal(tf.function(layer)(IMAGES).numpy(), expected)
    np.testing.assert_array_equal(tf.function(layer, jit_compile=True)(IMAGES).numpy(), expected)


def test_reflect_and_symmetric_differ_as_documented():
    x = np.arange(4, dtype="float32").reshape(1, 4, 1)
    assert ReflectionPadding1D(2)(x)[0, :, 0].numpy().tolist() == [2, 1, 0, 1, 2, 3, 2, 1]
    assert ReflectionPadding1D(2, "symmetric")(x)[0, :, 0].numpy().tolist() == [1, 0, 0, 1, 2, 3, 3, 2]


def test_reflection_padding_1d_pads_the_mask_the_same_way():
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = ReflectionPadding1D((2, 1))
    expected = np.pad(mask, [(0, 0), (2, 1)], mode="reflect")
    np.testing.assert_array_equal(layer.compute_mask(x, mask).numpy(), expected)
    inputs = keras.Input((None, 3))
    padded = ReflectionPadding1D(1)(keras.layers.Masking(0.0)(inputs))
    model = keras.Model(inputs, keras.layers.GRU(2)(padded))
    assert model(x).shape == (2, 2)


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_reflection_padding_harness(mode, tmp_path):
    run_layer_test(ReflectionPadding2D, {"padding": ((1, 2), (0, 3)), "mode": mode},
                   input_shape=(2, 4, 5, 3), expected_output_shape=(2, 7, 8, 3),
                   expected_num_trainable_weights=0, tmp_path=tmp_path)
    run_layer_test(ReflectionPadding1D, {"padding": (3, 1), "mode": mode},
                   input_shape=(2, 5, 3), expected_output_shape=(2, 9, 3),
                   expected_num_trainable_weights=0, tmp_path=tmp_path)


def test_reflection_padding_bad_arguments_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="`mode` must be one of"):
        ReflectionPadding2D(1, mode="edge")
    with pytest.raises(ValueError, match="`padding` must be an int >= 0"):
        ReflectionPadding1D(-1)
    with pytest.raises(ValueError, match="`padding` must be an int >= 0"):
        ReflectionPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="`inputs` must have rank 4"):
        ReflectionPadding2D(1)(IMAGES[0])
    with pytest.raises(ValueError, match="`inputs` must have rank 3"):
        ReflectionPadding1D(1)(IMAGES)
    with pytest.raises(ValueError, match=r"needs `inputs` of at least 8 there with mode='reflect'"):
        ReflectionPadding2D((7, 0))(IMAGES)
    ReflectionPadding2D((7, 0), mode="symmetric")(IMAGES)  # symmetric allows padding == size
    with pytest.raises(ValueError, match="mode='symmetric'"):
        ReflectionPadding2D((8, 0), mode="symmetric")(IMAGES)


# ---------------------------------------------------------------- L2 pooling

@pytest.mark.parametrize("pool_size,strides,padding", POOLS)
def test_l2_pooling_matches_numpy(pool_size, strides, padding):
    layer = L2Pooling2D(pool_size, strides, padding)
    expected = numpy_l2_pool(IMAGES, pool_size, strides, padding)
    out = layer(IMAGES).numpy()
    assert out.shape == expected.shape == layer.compute_output_shape(IMAGES.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_allclose(tf.function(layer, jit_compile=True)(IMAGES).numpy(), out, rtol=1e-6)


def test_l2_pooling_lies_between_average_and_max_of_absolute_values():
    out = L2Pooling2D(3, 2)(IMAGES).numpy()
    magnitude = np.abs(IMAGES)
    mean = keras.ops.average_pool(magnitude, 3, 2).numpy()
    largest = keras.ops.max_pool(magnitude, 3, 2).numpy()
    assert np.all(out >= mean - 1e-6) and np.all(out <= largest + 1e-6)


def test_l2_pooling_of_zero_windows_is_zero_with_finite_gradients():
    x = tf.constant(np.concatenate([np.zeros((1, 2, 4, 1)), RNG.normal(size=(1, 2, 4, 1))], 1), "float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = L2Pooling2D(2)(x)
        loss = tf.reduce_sum(out)
    grad = tape.gradient(loss, x).numpy()
    assert np.all(out.numpy()[0, 0] == 0) and np.all(np.isfinite(grad))
    assert np.all(grad[0, :2] == 0) and np.all(grad[0, 2:] != 0)


def test_l2_pooling_does_not_overflow_in_mixed_float16():
    x = np.full((1, 4, 4, 1), 300.0, "float32")  # 300**2 overflows float16
    out = L2Pooling2D(2, dtype="mixed_float16")(x)
    assert out.dtype == tf.float16
    np.testing.assert_allclose(out.numpy().astype("float32"), 300.0, rtol=1e-3)


def test_l2_pooling_harness(tmp_path):
    run_layer_test(L2Pooling2D, {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"},
                   input_shape=(2, 5, 6, 3), expected_output_shape=(2, 3, 6, 3),
                   expected_num_trainable_weights=0, tmp_path=tmp_path)


def test_l2_pooling_bad_arguments_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="`pool_size` must be an int >= 1"):
        L2Pooling2D(0)
    with pytest.raises(ValueError, match="`strides` must be an int >= 1"):
        L2Pooling2D(2, strides=(1, 2, 3))
    with pytest.raises(ValueError, match="`padding` must be one of"):
        L2Pooling2D(2, padding="full")
    with pytest.raises(ValueError, match="`inputs` must have rank 4"):
        L2Pooling2D(2)(IMAGES[0])
    with pytest.raises(ValueError, match="at least `pool_size`"):
        L2Pooling2D((8, 2))(IMAGES)


# ---------------------------------------------------------------- max pooling with switches

@pytest.mark.parametrize("pool_size,strides,padding", POOLS)
def test_max_pooling_with_argmax_matches_numpy(pool_size, strides, padding):
    layer = MaxPoolingWithArgmax2D(pool_size, strides, padding)
    expected_pooled, expected_switches = numpy_max_pool_with_argmax(IMAGES, pool_size, strides, padding)
    pooled, switches = layer(IMAGES)
    assert switches.dtype == tf.int64
    assert layer.compute_output_shape(IMAGES.shape) == (expected_pooled.shape,) * 2
    np.testing.assert_array_equal(pooled.numpy(), expected_pooled)
    np.testing.assert_array_equal(switches.numpy(), expected_switches)
    np.testing.assert_array_equal(
        pooled.numpy(), keras.ops.max_pool(IMAGES, pool_size, strides, padding).numpy())
    for compiled in (tf.function(layer), tf.function(layer, jit_compile=True)):
        graph_pooled, graph_switches = compiled(IMAGES)
        np.testing.assert_array_equal(graph_pooled.numpy(), expected_pooled)
        np.testing.assert_array_equal(graph_switches.numpy(), expected_switches)


@pytest.mark.parametrize("pool_size,strides", [(2, 2), (3, 2), (3, 1), ((2, 3), (1, 2))])
def test_switches_are_tensorflows_with_valid_padding(pool_size, strides):
    pooled, switches = MaxPoolingWithArgmax2D(pool_size, strides, "valid")(IMAGES)
    tf_pooled, tf_switches = tf.nn.max_pool_with_argmax(
        IMAGES, pool_size, strides, "VALID", include_batch_in_index=False)
    np.testing.assert_array_equal(pooled.numpy(), tf_pooled.numpy())
    np.testing.assert_array_equal(switches.numpy(), tf_switches.numpy())


def test_the_native_op_has_no_xla_kernel_and_ours_compiles():
    native = tf.function(lambda x: tf.nn.max_pool_with_argmax(x, 2, 2, "VALID"), jit_compile=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="MaxPoolWithArgmax"):
        native(IMAGES)
    pooled, switches = tf.function(MaxPoolingWithArgmax2D(2), jit_compile=True)(IMAGES)
    expected = tf.nn.max_pool_with_argmax(IMAGES, 2, 2, "VALID", include_batch_in_index=False)
    np.testing.assert_array_equal(switches.numpy(), expected[1].numpy())


def test_ties_take_the_first_position_in_row_major_order_also_under_xla():
    x = np.zeros((1, 4, 4, 2), "float32")
    x[0, 1, 0, 1] = x[0, 1, 1, 1] = x[0, 0, 1, 1] = 5.0  # three maxima in the first window
    layer = MaxPoolingWithArgmax2D(2)
    for call in (layer, tf.function(layer, jit_compile=True)):
        _, switches = call(x)
        assert switches.numpy()[0, 0, 0, 1] == (0 * 4 + 1) * 2 + 1  # row 0 before row 1
        assert switches.numpy()[0, 0, 0, 0] == 0  # all zero: the window's first


def test_switches_of_a_dynamic_shape_model_under_xla():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, MaxPoolingWithArgmax2D(3, 2, "same")(inputs))
    compiled = tf.function(model, jit_compile=True)
    for x in (IMAGES, IMAGES[:1, :5, :6]):
        ref = numpy_max_pool_with_argmax(x, 3, 2, "same")
        pooled, switches = compiled(x)
        np.testing.assert_array_equal(pooled.numpy(), ref[0])
        np.testing.assert_array_equal(switches.numpy(), ref[1])


def test_max_pooling_gradient_goes_to_the_switch():
    x = tf.constant(RNG.normal(size=(2, 5, 5, 2)))
    layer = MaxPoolingWithArgmax2D(3, 2, "same", dtype="float64")
    projection = RNG.normal(size=(2, 3, 3, 2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled, switches = layer(x)
        loss = tf.reduce_sum(pooled * projection)
    grad = tape.gradient(loss, x).numpy()
    expected = np.zeros((2, 5 * 5 * 2))
    for b in range(2):
        np.add.at(expected[b], switches.numpy()[b].ravel(), projection[b].ravel())
    np.testing.assert_allclose(grad, expected.reshape(grad.shape), atol=1e-12)
    with tf.GradientTape() as tape:  # and under XLA
        tape.watch(x)
        loss = tf.reduce_sum(tf.function(layer, jit_compile=True)(x)[0] * projection)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), grad, atol=1e-12)


def test_max_pooling_with_argmax_round_trips_and_mixed_precision(tmp_path):
    kwargs = {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"}
    check_config_round_trip(MaxPoolingWithArgmax2D, kwargs)
    inputs = keras.Input((7, 9, 3))
    pooled, switches = MaxPoolingWithArgmax2D(**kwargs)(inputs)
    assert switches.dtype == "int64" and tuple(pooled.shape) == (None, 4, 9, 3)
    model = keras.Model(inputs, [pooled, switches])
    expected = model.predict(IMAGES, verbose=0)
    model.save(tmp_path / "pool.keras")
    restored = keras.saving.load_model(tmp_path / "pool.keras").predict(IMAGES, verbose=0)
    for got, want in zip(restored, expected):
        np.testing.assert_array_equal(got, want)
    model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved_model")).serve(IMAGES)
    for got, want in zip(served, expected):
        np.testing.assert_array_equal(got.numpy(), want)
    mixed_pooled, mixed_switches = MaxPoolingWithArgmax2D(**kwargs, dtype="mixed_float16")(IMAGES)
    assert mixed_pooled.dtype == tf.float16 and mixed_switches.dtype == tf.int64
    np.testing.assert_allclose(mixed_pooled.numpy().astype("float32"), expected[0], rtol=1e-3)


def test_max_pooling_with_argmax_bad_arguments_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="`pool_size` must be an int >= 1"):
        MaxPoolingWithArgmax2D((2, 0))
    with pytest.raises(ValueError, match="`padding` must be one of"):
        MaxPoolingWithArgmax2D(2, padding="SAMEISH")
    with pytest.raises(ValueError, match=r"`inputs` must have rank 4 \(B, H, W, C\)"):
        MaxPoolingWithArgmax2D(2)(IMAGES[..., 0])
    with pytest.raises(ValueError, match="channel axis of `inputs` must be known"):
        MaxPoolingWithArgmax2D(2).build((None, 4, 4, None))
    with pytest.raises(ValueError, match="at least `pool_size`"):
        MaxPoolingWithArgmax2D(8)(IMAGES)


# ---------------------------------------------------------------- max unpooling

@pytest.mark.parametrize("pool_size,strides,padding", POOLS)
def test_unpool_of_pool_keeps_each_window_maximum_in_place_and_zeroes_the_rest(
        pool_size, strides, padding):
    pooled, switches = MaxPoolingWithArgmax2D(pool_size, strides, padding)(IMAGES)
    unpool = MaxUnpooling2D(pool_size, strides, padding, output_size=(7, 9))
    out = unpool([pooled, switches]).numpy()
    keep = np.zeros(IMAGES.shape, bool)  # every window's maximum, by brute force
    for i, j, rows, cols, _ in _windows(IMAGES.shape, pool_size, strides, padding):
        patch = IMAGES[:, rows][:, :, cols]
        for b in range(2):
            for c in range(3):
                r, q = np.unravel_index(np.argmax(patch[b, :, :, c]), patch.shape[1:3])
                keep[b, rows[r], cols[q], c] = True
    np.testing.assert_array_equal(out, np.where(keep, IMAGES, 0.0))
    xla = tf.function(unpool, jit_compile=True)([pooled, switches]).numpy()
    np.testing.assert_array_equal(xla, out)


def test_unpooling_matches_numpy_where_switches_collide():
    values = RNG.normal(size=(3, 4, 5, 2)).astype("float32")
    switches = RNG.integers(0, 6 * 7 * 2, size=values.shape)  # many collisions
    expected = numpy_unpool(values, switches, 6, 7)
    layer = MaxUnpooling2D(2, output_size=(6, 7))
    for call in (layer, tf.function(layer), tf.function(layer, jit_compile=True)):
        np.testing.assert_array_equal(call([values, switches]).numpy(), expected)
        np.testing.assert_array_equal(call([values, switches.astype("int32")]).numpy(), expected)


def test_a_position_chosen_twice_gets_the_maximum_and_its_gradient():
    values = tf.constant([[[[-3.0], [2.0], [5.0]]]])  # [1, 1, 3, 1], all to position 1
    switches = tf.constant([[[[1], [1], [1]]]], tf.int64)
    with tf.GradientTape() as tape:
        tape.watch(values)
        out = MaxUnpooling2D((1, 3), output_size=(1, 4))([values, switches])
        loss = tf.reduce_sum(out)
    np.testing.assert_array_equal(out.numpy().ravel(), [0.0, 5.0, 0.0, 0.0])
    np.testing.assert_array_equal(tape.gradient(loss, values).numpy().ravel(), [0, 0, 1])
    # A negative value alone at its position stays (not clipped to the zeros around it).
    out = MaxUnpooling2D((1, 3), output_size=(1, 4))([values, tf.constant([[[[0], [2], [3]]]])])
    np.testing.assert_array_equal(out.numpy().ravel(), [-3.0, 0.0, 2.0, 5.0])


@pytest.mark.parametrize("pool_size,strides,padding,shape", [
    (2, 2, "valid", (8, 10)), (2, 2, "same", (8, 10)), (3, 2, "valid", (9, 11)), (3, 2, "same", (8, 10)),
])
def test_output_size_is_inferred_when_not_given(pool_size, strides, padding, shape):
    layer = MaxUnpooling2D(pool_size, strides, padding)
    assert layer.compute_output_shape([(2, 4, 5, 3)] * 2) == (2, *shape, 3)
    x = RNG.normal(size=(2, *shape, 3)).astype("float32")
    pooled, switches = MaxPoolingWithArgmax2D(pool_size, strides, padding)(x)
    assert pooled.shape == (2, 4, 5, 3)
    out = layer([pooled, switches]).numpy()
    np.testing.assert_array_equal(
        out, numpy_unpool(pooled.numpy(), switches.numpy(), *shape).astype("float32"))


def test_switches_outside_the_output_are_dropped():
    values = np.ones((1, 1, 2, 1), "float32")
    switches = np.array([[[[-1], [4]]]])
    out = MaxUnpooling2D(output_size=(2, 2))([values, switches]).numpy()
    np.testing.assert_array_equal(out, np.zeros((1, 2, 2, 1)))


def test_unpooling_harness(tmp_path):
    run_layer_test(MaxUnpooling2D, {"pool_size": 3, "strides": 2, "padding": "same",
                                    "output_size": (5, 7)},
                   input_shape=[(2, 3, 4, 3), (2, 3, 4, 3)], expected_output_shape=(2, 5, 7, 3),
                   expected_num_trainable_weights=0, tmp_path=tmp_path,
                   integer_inputs={1: (0, 5 * 7 * 3)})


def test_pool_unpool_model_trains_under_xla_with_dynamic_batch():
    inputs = keras.Input((7, 9, 3))
    h = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    pooled, switches = MaxPoolingWithArgmax2D(3, 2, "same")(h)
    out = MaxUnpooling2D(3, 2, "same", output_size=(7, 9))([pooled, switches])
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(out))
    model.compile(keras.optimizers.Adam(1e-2), "mse", jit_compile=True)
    first = model.evaluate(IMAGES, IMAGES, verbose=0)
    model.fit(IMAGES, IMAGES, epochs=20, batch_size=2, verbose=0)
    assert model.evaluate(IMAGES, IMAGES, verbose=0) < first
    assert model.predict(IMAGES[:1], verbose=0).shape == (1, 7, 9, 3)


def test_unpooling_bad_arguments_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="`output_size` must be an int >= 1"):
        MaxUnpooling2D(output_size=(4, 0))
    with pytest.raises(ValueError, match="`padding` must be one of"):
        MaxUnpooling2D(padding="full")
    with pytest.raises(ValueError, match=r"must be a list \[values, switches\]"):
        MaxUnpooling2D().build((2, 4, 4, 3))
    with pytest.raises(ValueError, match="`switches` must have the shape of `values`"):
        MaxUnpooling2D()([IMAGES, np.zeros((2, 7, 8, 3), "int64")])
    with pytest.raises(ValueError, match="`values` must have rank 4"):
        MaxUnpooling2D()([IMAGES[0], np.zeros((7, 9, 3), "int64")])
    with pytest.raises(ValueError, match="`switches` must be integers"):
        MaxUnpooling2D()([IMAGES, IMAGES])
