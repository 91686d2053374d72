"""`conv_autoencoder_mnist`: the deconvolution autoencoder, its task, PCA
(the baseline) and its export."""

import gzip

import numpy as np
import pytest
import tensorflow as tf

import zoo
from custom_layers import MaxPoolingWithArgmax2D, MaxUnpooling2D
from training import train
from training.tasks.mnist import autoencoder as task
from training.tasks.mnist import idx
from zoo import conv_autoencoder

ENTRY = zoo.get("conv_autoencoder_mnist")


@pytest.fixture(scope="module")
def smoke_model():
    return ENTRY.build("smoke")


def _digits(count=4, seed=0):
    return np.random.default_rng(seed).random((count, 28, 28, 1)).astype(np.float32)


def _write_idx(directory, images, labels):
    """One pair of gzip IDX files of `images` uint8 [N, 28, 28] and `labels` [N]."""
    directory.mkdir(parents=True, exist_ok=True)
    n = len(images)
    with gzip.open(directory / "t-images-idx3-ubyte.gz", "wb") as f:
        f.write((2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (n, 28, 28))
                + images.astype(np.uint8).tobytes())
    with gzip.open(directory / "t-labels-idx1-ubyte.gz", "wb") as f:
        f.write((2049).to_bytes(4, "big") + n.to_bytes(4, "big") + labels.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def digits_dir(tiny_data_dir, tmp_path_factory):
    """2,100 digits: the 1,100 of the fixture and their first 1,000 again, so
    that 100 train, 1,000 validate and the last 1,000 (the fixture's) test."""
    images, labels = idx.load(tiny_data_dir)
    directory = tmp_path_factory.mktemp("digits") / "mnist"
    _write_idx(directory, np.concatenate([images[:1000], images]), np.concatenate([labels[:1000], labels]))
    return directory.parent


def test_builder_shapes_and_code(smoke_model):
    model = ENTRY.build("paper")
    assert model.output_shape == (None, 28, 28, 2)
    assert model.get_layer("code").units == 32 == ENTRY.outputs[1].shape[1]
    assert [model.get_layer(n).filters for n in ("conv_1", "conv_2")] == [16, 32]
    assert sum(isinstance(l, MaxPoolingWithArgmax2D) for l in model.layers) == 2
    assert sum(isinstance(l, MaxUnpooling2D) for l in model.layers) == 2
    out = smoke_model(_digits())
    assert out.shape == (4, 28, 28, 2) and out.dtype == tf.float32
    assert np.all((out.numpy() >= 0) & (out.numpy() <= 1))  # a sigmoid


@pytest.mark.parametrize("kwargs,message", [
    ({"code_size": 0}, "`code_size` must be a positive int"),
    ({"code_size": 65}, "`code_size` must be at most 64"),
    ({"filters": (8,)}, "`filters` must be two positive ints"),
    ({"filters": (8, 0)}, "`filters` must be a positive int"),
])
def test_builder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_autoencoder.build_conv_autoencoder(**kwargs)


def test_top_left_unpooling_is_max_unpooling_with_top_left_switches():
    values = tf.constant(np.random.default_rng(1).random((2, 3, 4, 5)), tf.float32)
    unpooled = conv_autoencoder.TopLeftUnpooling2D()(values).numpy()
    assert unpooled.shape == (2, 6, 8, 5)
    np.testing.assert_array_equal(unpooled[:, ::2, ::2], values.numpy())
    # The switches of a pooling whose maxima all lie top-left, unpooled by MaxUnpooling2D.
    peaks = np.zeros((2, 6, 8, 5), np.float32)
    peaks[:, ::2, ::2] = values.numpy() + 1
    _, switches = MaxPoolingWithArgmax2D(2)(peaks)
    np.testing.assert_array_equal(MaxUnpooling2D(2)([values, switches]).numpy(), unpooled)
    xla = tf.function(conv_autoencoder.TopLeftUnpooling2D(), jit_compile=True)(values)
    np.testing.assert_array_equal(xla.numpy(), unpooled)


def test_the_served_decoding_uses_the_switches_and_the_other_only_the_code(smoke_model):
    x = _digits(3)
    out = smoke_model(x).numpy()
    assert not np.allclose(out[..., 0], out[..., 1])  # the switches reach the decoder
    codes = conv_autoencoder.encoder_and_decodings(smoke_model)(x)[1]
    np.testing.assert_allclose(conv_autoencoder.code_decoder(smoke_model)(codes).numpy()[..., 0],
                               out[..., 1], atol=1e-6)
    plain = conv_autoencoder.build_conv_autoencoder(code_size=8, filters=(2, 4), switches=False)
    both = plain(x).numpy()
    np.testing.assert_array_equal(both[..., 0], both[..., 1])  # no switches: one decoding
    assert conv_autoencoder.switch_bits((16, 32)) == 2 * (14 * 14 * 16 + 7 * 7 * 32) == 9_408


def test_serving_outputs(smoke_model):
    x = _digits(5)
    out = tf.function(conv_autoencoder.serving_fn(smoke_model))(image=tf.constant(x))
    assert list(out) == ["reconstruction", "code"]
    assert out["reconstruction"].shape == (5, 28, 28, 1) and out["reconstruction"].dtype == tf.float32
    assert out["code"].shape == (5, 32) and out["code"].dtype == tf.float32
    np.testing.assert_allclose(out["reconstruction"].numpy(), smoke_model(x).numpy()[..., :1], atol=1e-6)
    np.testing.assert_allclose(out["code"].numpy(),
                               conv_autoencoder.encoder_and_decodings(smoke_model)(x)[1].numpy(), atol=1e-6)


@pytest.mark.parametrize("value", [1.5, -0.1, np.nan, np.inf])
def test_pixels_outside_0_1_or_not_finite_are_a_clear_error(smoke_model, value):
    serve = tf.function(conv_autoencoder.serving_fn(smoke_model))
    x = _digits(2)
    x[1, 3, 4, 0] = value
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`image` must hold finite values in \[0, 1\]"):
        serve(image=tf.constant(x))


@pytest.mark.parametrize("shape", [(2, 28, 28), (2, 32, 32, 1), (2, 28, 28, 3)])
def test_inputs_of_another_shape_are_a_clear_error(smoke_model, shape):
    serve = tf.function(conv_autoencoder.serving_fn(smoke_model))
    with pytest.raises(ValueError, match=r"`image` must be float32 \[B, 28, 28, 1\].*received shape"):
        serve(image=tf.zeros(shape))


def test_pca_on_a_known_case():
    rng = np.random.default_rng(2)
    # Four points on a plane through `mean` in 784 dimensions, spread 3 along one direction and 1
    # along the other: their mean is `mean`, those directions their principal axes.
    mean = rng.random(784)
    axes = np.linalg.qr(rng.normal(size=(784, 2)))[0].T  # two orthonormal directions
    train_points = mean + np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) @ axes
    pca = task.fit_pca(train_points)
    np.testing.assert_allclose(pca[0], mean)
    np.testing.assert_allclose(np.abs(pca[1][:, :2].T @ axes.T), np.eye(2), atol=1e-9)
    held = mean + np.array([[2.0, 0.0], [0.0, 1.0], [1.0, -1.0]]) @ axes
    errors = task.pca_squared_errors(pca, held, max_components=3)
    centred = held - pca[0]
    np.testing.assert_allclose(errors[:, 0], np.square(centred).mean(axis=1))
    np.testing.assert_allclose(errors[:, 2:], 0.0, atol=1e-12)
    # One component: the larger-variance direction (the first) is kept, the second lost.
    lost = np.square(centred @ axes[1]) / 784
    np.testing.assert_allclose(errors[:, 1], lost, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(task.pca_reconstruct(pca, held, 2), held, atol=1e-9)
    # Against numpy's SVD on random data: the same errors for every number of components.
    data, others = rng.random((40, 784)), rng.random((5, 784))
    _, _, vt = np.linalg.svd(data - data.mean(axis=0), full_matrices=False)
    pca = task.fit_pca(data)
    for k in (0, 1, 7, 30):
        projected = (others - data.mean(axis=0)) @ vt[:k].T @ vt[:k] + data.mean(axis=0)
        expected = np.square(others - projected).mean(axis=1)
        np.testing.assert_allclose(task.pca_squared_errors(pca, others, 30)[:, k], expected, atol=1e-10)
        np.testing.assert_allclose(task.pca_reconstruct(pca, others, k), projected, atol=1e-10)


def test_score_compares_with_pca_of_as_many_components_as_the_code():
    images = _digits(3)
    labels = np.empty(3, task.LABEL_DTYPE)
    labels["image"] = images
    labels["pca_squared_error"] = np.arange(65)[None, :] * [[1.0], [2.0], [3.0]] / 1000
    exact = task.score({"reconstruction": images, "code": np.zeros((3, 32))}, {"image": images}, labels)
    assert exact["mse"] == exact["error"] == 0.0 and exact["code_size"] == 32
    assert exact["pca_mse"] == pytest.approx(0.064) and exact["ratio_to_pca"] == 0.0
    blank = task.score({"reconstruction": np.zeros_like(images), "code": np.zeros((3, 10))},
                       {"image": images}, labels)
    assert blank["mse"] == pytest.approx(np.square(images).mean(), rel=1e-6)
    assert blank["pca_mse"] == pytest.approx(0.02)
    assert blank["ratio_to_pca"] == pytest.approx(blank["mse"] / 0.02)


def test_splits_hold_out_the_mnist_validation_digits_as_test():
    parts = {s: set(task.split_indices(8000, s)) for s in ("train", "validation", "test")}
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [6000, 1000, 1000]
    assert parts["test"] == set(idx.split_indices(8000, "validation"))  # what every MNIST model holds out
    assert parts["train"] | parts["validation"] == set(idx.split_indices(8000, "train"))
    assert not parts["train"] & parts["validation"]
    with pytest.raises(ValueError, match="too few to hold out"):
        task.split_indices(1100, "train")
    with pytest.raises(ValueError, match="`split` must be one of"):
        task.split_indices(8000, "dev")


def test_dataset_gives_each_digit_as_its_own_target(digits_dir):
    batches = list(task.autoencoder_dataset("validation", data_dir=digits_dir, batch_size=300))
    x = np.concatenate([a.numpy() for a, _ in batches])
    y = np.concatenate([b.numpy() for _, b in batches])
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(x, task.images("validation", digits_dir))
    assert x.shape == (1000, 28, 28, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    train_x = np.concatenate([a.numpy() for a, _ in task.autoencoder_dataset("train", data_dir=digits_dir)])
    assert len(train_x) == 100 and not np.array_equal(train_x, task.images("train", digits_dir))  # shuffled


def test_smoke_training_scores_against_pca(digits_dir, tmp_path):
    info = train.train("conv_autoencoder_mnist", preset="smoke", data_dir=digits_dir,
                       run_dir=tmp_path / "run", verbose=0)
    held_out = info["metrics"]["held_out"]
    assert held_out["split"] == "validation" and held_out["examples"] == 1000
    assert held_out["code_size"] == 32 and held_out["error"] == held_out["mse"] > 0
    assert held_out["ratio_to_pca"] == pytest.approx(held_out["mse"] / held_out["pca_mse"])
    # Validation's figure from Keras is the same served decoding's MSE.
    assert info["metrics"]["validation"]["error"] == pytest.approx(held_out["mse"], rel=1e-4)
    report = task.report("test", digits_dir, weights=tmp_path / "run" / "final.weights.h5")
    assert report["examples"] == 1000 and report["switches"] and report["switch_bits_per_image"] == 2 * (
        14 * 14 * 2 + 7 * 7 * 4)
    assert report["ratio_code_only_to_pca"] == pytest.approx(report["mse_code_only"] / report["pca_mse"])


def test_visualize_writes_a_png(smoke_model, tmp_path):
    from training import visualize

    path = tmp_path / "autoencoder.png"
    visualize.visualize_conv_autoencoder_mnist(smoke_model, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pretrained_export_beats_pca_on_digits_it_never_saw(zoo_exports, data_dir):
    """The issue's bar: mean squared error at most 0.8x PCA's with as many components."""
    from exports import verify

    path = zoo_exports.get("conv_autoencoder_mnist")
    scores = verify.evaluate_export(path, "conv_autoencoder_mnist", data_dir=data_dir, split="test")
    assert scores["examples"] == 1000 and scores["code_size"] == 32
    assert scores["ratio_to_pca"] <= 0.8, scores
    outputs = zoo_exports.outputs["conv_autoencoder_mnist"]  # the example digits, without project code
    assert outputs["reconstruction"].shape == (8, 28, 28, 1) and outputs["code"].shape == (8, 32)
