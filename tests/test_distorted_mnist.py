import numpy as np
import pytest

from training.tasks.mnist import distorted as distorted_mnist
from training.tasks.mnist import idx as mnist


@pytest.fixture(scope="module")
def digits(tiny_data_dir):
    return mnist.load(tiny_data_dir)[0][:8]


@pytest.mark.parametrize("variant,size", sorted(distorted_mnist.VARIANTS.items()))
def test_variants_are_deterministic_per_seed_split_and_epoch(digits, variant, size):
    first, theta = distorted_mnist.distort(digits, variant, seed=0)
    assert first.shape == (8, size, size, 1) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    again, _ = distorted_mnist.distort(digits, variant, seed=0)
    np.testing.assert_array_equal(first, again)
    for other in ({"seed": 1}, {"seed": 0, "epoch": 1}, {"seed": 0, "split": "validation"}):
        assert not np.array_equal(first, distorted_mnist.distort(digits, variant, **other)[0])
    # An example's distortion does not depend on the batch it is drawn in. The
    # grid's float32 matmuls sum in a batch-size-dependent order: ~20 terms at
    # eps 1.2e-7 on coordinates up to ~30 pixels bound a sample's move by ~1e-4
    # pixel, so its intensity by ~1e-4, still 40x under one grey level (1/255).
    single, _ = distorted_mnist.distort(digits[3:4], variant, seed=0, indices=[3])
    if variant != "TC":  # clutter is cut from the other digits of the batch
        np.testing.assert_allclose(single[0], first[3], atol=1e-4)


def test_rotation_keeps_the_digit_and_rts_scales_it(digits):
    ink = digits.sum(axis=(1, 2)) / 255.0
    rotated, _ = distorted_mnist.distort(digits, "R", seed=0)
    np.testing.assert_allclose(rotated.sum(axis=(1, 2, 3)), ink, rtol=0.05)
    rts, theta = distorted_mnist.distort(digits, "RTS", seed=0)
    scale = 42 / 28 / np.sqrt(np.abs(theta[:, 0] * theta[:, 4] - theta[:, 1] * theta[:, 3]))
    assert np.all((scale > 0.69) & (scale < 1.21))
    np.testing.assert_allclose(rts.sum(axis=(1, 2, 3)), ink * scale**2, rtol=0.08)


def test_bad_arguments(digits):
    with pytest.raises(ValueError, match="`variant` must be one of"):
        distorted_mnist.distort(digits, "XYZ", seed=0)
    with pytest.raises(ValueError, match=r"`images` must be \[N, 28, 28\]"):
        distorted_mnist.distort(digits[..., None], "R", seed=0)


def test_tfds_builder_holds_the_seeded_distortions(tiny_data_dir, tmp_path):
    builder = distorted_mnist.builder("RTS", tiny_data_dir, tmp_path)
    assert builder.info.splits["train"].num_examples == 100
    assert builder.info.splits["validation"].num_examples == 1000
    images, labels = mnist.load(tiny_data_dir)
    expected, _ = distorted_mnist.distort(images[100:], "RTS", 0, "validation",
                                          indices=np.arange(100, 1100))
    by_label = {}
    for image, label in builder.as_dataset(split="validation", as_supervised=True).take(50):
        by_label.setdefault(int(label), []).append(image.numpy())
    stored = {img.tobytes() for imgs in by_label.values() for img in imgs}
    quantised = {np.round(e * 255).astype(np.uint8).tobytes() for e in expected}
    assert stored <= quantised
    with pytest.raises(ValueError, match="`variant` must be one of"):
        distorted_mnist.builder("Q", tiny_data_dir, tmp_path)


@pytest.mark.parametrize("variant", ["RTS", "TC"])  # TC: the clutter too
def test_validation_halves_are_the_validation_digits_distorted_alike(variant, tiny_data_dir):
    from training.tasks import mnist as mnist_tasks

    def arrays(split):
        ds = mnist_tasks.mnist_rts_dataset(split, tiny_data_dir, batch_size=1000, variant=variant)
        images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
        return np.concatenate(images), np.concatenate(labels)

    assert mnist.split_indices(1100, "validation_a") == range(100, 600)
    assert mnist.split_indices(1100, "validation_b") == range(600, 1100)
    whole, labels = arrays("validation")
    first, first_labels = arrays("validation_a")
    second, second_labels = arrays("validation_b")
    assert len(first) == len(second) == 500
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    np.testing.assert_array_equal(np.concatenate([first_labels, second_labels]), labels)
    with pytest.raises(ValueError, match="split"):
        mnist.split_indices(1100, "validation_c")
