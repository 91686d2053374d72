import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers.pointer_attention import PointerAttention
from custom_layers.pointer_generator import PointerGenerator
from tests.layer_harness import run_layer_test

B, T, S, V, MAX_OOV = 3, 2, 5, 7, 3
RNG = np.random.default_rng(0)
STATES = RNG.normal(size=(B, T, 4)).astype("float32")
CONTEXT = RNG.normal(size=(B, T, 6)).astype("float32")
DEC_INPUTS = RNG.normal(size=(B, T, 2)).astype("float32")
LOGITS = RNG.normal(size=(B, T, V)).astype("float32")
ATTENTION = RNG.dirichlet(np.ones(S), size=(B, T)).astype("float32")
# row 0: in-vocabulary words with a repeat (3 twice); row 1: two OOV words,
# one repeated; row 2: every id once, the last in the top OOV slot.
SOURCE = np.array([[3, 1, 3, 0, 0], [V, 2, V + 1, V, 4], [5, 6, 1, V + 2, 2]], "int32")


def inputs(states=STATES, source=SOURCE):
    return [states, CONTEXT, DEC_INPUTS, LOGITS, ATTENTION, source]


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def scattered_attention(attention, source, size):
    """The reference scatter-add, with an explicit loop."""
    out = np.zeros(attention.shape[:-1] + (size,))
    for b in range(attention.shape[0]):
        for i, word in enumerate(source[b]):
            out[b, ..., word] += attention[b, ..., i]
    return out


@keras.saving.register_keras_serializable(package="special_networks")
class PointerGeneratorOnFixedSource(PointerGenerator):
    """The harness feeds only float, differentiable inputs: this variant
    takes the first five and supplies fixed `SOURCE` ids as the sixth, so
    the harness runs every check through PointerGenerator's own code."""

    def _with_source(self, shapes):
        return list(shapes) + [(shapes[0][0], S)]

    def build(self, input_shape):
        super().build(self._with_source(input_shape))

    def call(self, inputs, mask=None):
        source = tf.broadcast_to(SOURCE[:1], (tf.shape(inputs[0])[0], S))
        return super().call(list(inputs) + [source])

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(self._with_source(input_shape))

    def compute_output_spec(self, inputs, mask=None):
        shape = self.compute_output_shape([tuple(x.shape) for x in inputs])
        return keras.KerasTensor(shape, dtype=self._mixture_dtype)


def test_layer_harness(tmp_path):
    run_layer_test(
        PointerGeneratorOnFixedSource,
        {"max_oov": MAX_OOV, "bias_initializer": "ones"},
        input_shape=[(B, T, 4), (B, T, 6), (B, T, 2), (B, T, V), (B, T, S)],
        expected_output_shape=(B, T, V + MAX_OOV),
        expected_num_trainable_weights=4,
        tmp_path=tmp_path,
        mixed_precision_output_dtype="float32",
    )


def test_matches_the_formula_and_sums_to_one():
    layer = PointerGenerator(MAX_OOV, return_p_gen=True)
    probs, p_gen = [x.numpy() for x in layer(inputs())]
    w_c, w_s, w_x, b = [w.numpy() for w in layer.weights]
    expected_gate = 1 / (1 + np.exp(-(CONTEXT @ w_c + STATES @ w_s + DEC_INPUTS @ w_x + b)))
    np.testing.assert_allclose(p_gen, expected_gate[..., 0], atol=1e-6)
    vocabulary = np.pad(softmax(LOGITS), [(0, 0), (0, 0), (0, MAX_OOV)])
    expected = expected_gate * vocabulary + (1 - expected_gate) * scattered_attention(
        ATTENTION, SOURCE, V + MAX_OOV)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-6)
    assert probs.shape == (B, T, V + MAX_OOV) and p_gen.shape == (B, T)


def _layer_with_gate(bias):
    """A layer whose p_gen is sigmoid(bias) exactly: zero kernels."""
    return PointerGenerator(MAX_OOV, kernel_initializer="zeros",
                            bias_initializer=keras.initializers.Constant(bias))


def test_p_gen_one_gives_the_vocabulary_distribution():
    probs = _layer_with_gate(100.0)(inputs()).numpy()
    np.testing.assert_allclose(probs[..., :V], softmax(LOGITS), atol=1e-6)
    assert np.all(probs[..., V:] == 0)


def test_p_gen_zero_gives_the_attention_scattered_onto_the_source_ids():
    probs = _layer_with_gate(-100.0)(inputs()).numpy()
    np.testing.assert_allclose(probs, scattered_attention(ATTENTION, SOURCE, V + MAX_OOV),
                               atol=1e-6)


def test_repeated_source_words_add_up():
    probs = _layer_with_gate(-100.0)(inputs()).numpy()
    np.testing.assert_allclose(probs[0, :, 3], ATTENTION[0, :, 0] + ATTENTION[0, :, 2], atol=1e-6)
    np.testing.assert_allclose(probs[1, :, V], ATTENTION[1, :, 0] + ATTENTION[1, :, 3], atol=1e-6)
    np.testing.assert_allclose(probs[1, :, V + 1], ATTENTION[1, :, 2], atol=1e-6)
    assert np.all(probs[1, :, V + 2] == 0)  # an extended slot that no source word uses


def test_one_decoder_step_without_the_time_axis():
    layer = PointerGenerator(MAX_OOV)
    both = layer(inputs()).numpy()
    step = layer([x[:, 1] for x in inputs()[:5]] + [SOURCE]).numpy()
    assert step.shape == (B, V + MAX_OOV)
    np.testing.assert_allclose(step, both[:, 1], atol=1e-6)


def test_mixed_precision_gives_float32_finite_probabilities():
    layer = PointerGenerator(MAX_OOV, return_p_gen=True, dtype="mixed_float16")
    half = [x.astype("float16") for x in inputs()[:5]] + [SOURCE]
    half[3] = half[3] * 1000  # logits that overflow float16 exp()
    probs, p_gen = layer(half)
    assert probs.dtype == tf.float32 and p_gen.dtype == tf.float32
    assert all(w.dtype == "float32" for w in layer.weights)
    probs = probs.numpy()
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-3)  # attention rounded to float16


def test_xla_and_symbolic_model_with_masks_and_pointer_attention():
    """In a model: PointerAttention's log-probabilities as the attention, the
    decoder's padding mask passed on to the output (and so to the loss)."""
    encoded = keras.Input((None, 6))
    decoder = keras.Input((None,), dtype="int32")
    source = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(V, 4, mask_zero=True)(decoder)
    states = keras.layers.GRU(4, return_sequences=True)(embedded)
    attention = keras.ops.exp(PointerAttention(5)([states, encoded]))
    context = keras.ops.matmul(attention, encoded)
    logits = keras.layers.Dense(V)(states)
    probs = PointerGenerator(MAX_OOV)([states, context, embedded, logits, attention, source])
    assert probs.shape == (None, None, V + MAX_OOV)
    model = keras.Model([encoded, decoder, source], probs)
    decoder_ids = np.array([[2, 3], [4, 0], [1, 1]], "int32")
    x = [RNG.normal(size=(B, S, 6)).astype("float32"), decoder_ids, SOURCE]
    eager = model(x)
    np.testing.assert_array_equal(eager._keras_mask.numpy(), decoder_ids != 0)
    np.testing.assert_allclose(eager.numpy().sum(-1), 1, atol=1e-5)
    xla = tf.function(model, jit_compile=True)(x)
    np.testing.assert_allclose(xla.numpy(), eager.numpy(), atol=1e-5)


def test_ids_out_of_the_extended_vocabulary_receive_nothing():
    source = SOURCE.copy()
    source[2, 0] = V + MAX_OOV  # one past the last slot
    probs = _layer_with_gate(-100.0)(inputs(source=source)).numpy()
    np.testing.assert_allclose(probs[2].sum(-1), 1 - ATTENTION[2, :, 0], atol=1e-6)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="`max_oov` must be an int >= 0; received -1"):
        PointerGenerator(-1)
    with pytest.raises(ValueError, match=r"`inputs` must be \[decoder_states, context"):
        PointerGenerator(2)(inputs()[:5])
    with pytest.raises(ValueError, match="`attention` has 5 source positions but `source_ids` 4"):
        PointerGenerator(2)(inputs(source=SOURCE[:, :4]))
    with pytest.raises(ValueError, match="`context` must have rank 3 like `decoder_states`"):
        PointerGenerator(2)([STATES, CONTEXT[:, 0]] + inputs()[2:])
    with pytest.raises(ValueError, match=r"`source_ids` must have shape \(batch, positions\)"):
        PointerGenerator(2)(inputs(source=SOURCE[:, :, None]))
