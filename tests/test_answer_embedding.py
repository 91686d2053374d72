import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers import AnswerEmbedding
from tests.layer_harness import run_layer_test

RNG = np.random.default_rng(0)


@keras.saving.register_keras_serializable(package="special_networks")
class ReadoutOnly(AnswerEmbedding):
    """The readout mode as a plain call, for the harness (test only)."""

    def call(self, inputs):
        return super().call(inputs, readout=True)

    def compute_output_shape(self, input_shape, readout=True):
        return super().compute_output_shape(input_shape, readout=True)

    def compute_output_spec(self, inputs, readout=True):
        return super().compute_output_spec(inputs, readout=True)


def test_readout_harness(tmp_path):
    run_layer_test(ReadoutOnly, {"input_dim": 7, "output_dim": 5, "answer_ids": [3, -1, 2, -1]},
                   input_shape=(3, 5), expected_output_shape=(3, 4),
                   expected_num_trainable_weights=2, tmp_path=tmp_path)


def test_lookup_harness(tmp_path):
    # Looking up ids leaves the free rows alone: only the embeddings train.
    run_layer_test(AnswerEmbedding, {"input_dim": 7, "output_dim": 5, "answer_ids": [3, 2]},
                   input_shape=(3, 4), expected_output_shape=(3, 4, 5),
                   expected_num_trainable_weights=1, integer_inputs={0: (0, 7)}, tmp_path=tmp_path)


def test_readout_scores_with_the_word_rows_and_the_free_rows():
    layer = AnswerEmbedding(6, 3, answer_ids=[4, -1, 1, -1], mask_zero=True)
    ids = np.array([[4, 1, 0]])
    looked_up = layer(ids).numpy()
    table, free = layer.embeddings.numpy(), layer.free.numpy()
    np.testing.assert_allclose(looked_up[0], table[[4, 1, 0]])
    np.testing.assert_array_equal(layer.compute_mask(ids).numpy(), [[True, True, False]])
    u = RNG.normal(size=(2, 3)).astype("float32")
    rows = np.stack([table[4], free[0], table[1], free[1]])
    np.testing.assert_allclose(layer(u, readout=True).numpy(), u @ rows.T, rtol=1e-5, atol=1e-6)
    assert layer.compute_mask(tf.constant(u)) is None
    assert layer.compute_output_shape((None, 3), readout=True) == (None, 4)


def test_tied_in_a_functional_model_shares_one_table():
    ids = keras.Input((None,), dtype="int32")
    layer = AnswerEmbedding(6, 3, answer_ids=[2, -1])
    u = keras.layers.GlobalAveragePooling1D()(layer(ids))
    model = keras.Model(ids, keras.layers.Activation("softmax")(layer(u, readout=True)))
    assert len(model.trainable_weights) == 2
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = RNG.integers(0, 6, size=(4, 5)).astype("int32")
    np.testing.assert_allclose(clone(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_bad_arguments_name_what_was_expected():
    with pytest.raises(ValueError, match="`answer_ids` must be a non-empty list of word ids in"):
        AnswerEmbedding(5, 3, answer_ids=[5])
    with pytest.raises(ValueError, match="`answer_ids`"):
        AnswerEmbedding(5, 3, answer_ids=[])
    layer = AnswerEmbedding(5, 3, answer_ids=[1])
    with pytest.raises(ValueError, match="`inputs` must end in 3 features"):
        layer(np.zeros((2, 4), "float32"), readout=True)
