"""MNIST digits to reconstruct (`conv_autoencoder_mnist`), and PCA, the
baseline its reconstructions are measured against.

Splits of the IDX files' N digits (8,000 in our data), in file order:
- `test`: the last 1,000, the digits every MNIST zoo model holds out (the
  `mnist` task's validation split; `zoo/examples/mnist_digits.npz` are its
  first 8); nothing here is trained or chosen on them;
- `validation`: the 1,000 before them (images 6,000 to 6,999 of ours),
  for the validation loss during training;
- `train`: the others (6,000 of ours); PCA is fitted on them too.

The error is the mean squared error of the served reconstruction, per
pixel in [0, 1]. Held-out scoring also gives PCA's with as many
components as the code has numbers (fitted on the training digits, mean
removed) and the ratio of the two: the issue's bar is a ratio of at most
0.8. `report` adds the decoding from the code alone and what the pooling
switches carry:

    python -m training.tasks.mnist.autoencoder --split test --data-dir DIR
"""

import argparse
import functools
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.epochs import resumed_seed
from training.tasks.base import Task, resolve_data_dir
from training.tasks.mnist import idx

SPLITS = ("train", "validation", "test", "all")
HELD_OUT = idx.VALIDATION_SIZE  # digits in each of validation and test
PIXELS = 28 * 28
MAX_COMPONENTS = 64  # the largest code (zoo.conv_autoencoder.MAX_CODE_SIZE)


def split_indices(count, split):
    """Indices of `split` among `count` digits (see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {list(SPLITS)}; received {split!r}.")
    if count <= 2 * HELD_OUT and split != "all":
        raise ValueError(f"MNIST data holds {count} digits: too few to hold out {HELD_OUT} for "
                         f"validation and {HELD_OUT} for test; use split 'all'.")
    ranges = {"train": range(0, count - 2 * HELD_OUT),
              "validation": range(count - 2 * HELD_OUT, count - HELD_OUT),
              "test": range(count - HELD_OUT, count), "all": range(count)}
    return ranges[split]


def _load(data_dir):
    images, _ = idx.load(resolve_data_dir(data_dir))
    return images


def images(split, data_dir=None, limit=None):
    """The digits of `split` as float32 [N, 28, 28, 1] in [0, 1]."""
    raw = _load(data_dir)
    chosen = raw[np.array(split_indices(len(raw), split), dtype=np.int64)[:limit]]
    return (chosen.astype(np.float32) / 255.0)[..., None]


def autoencoder_dataset(split, data_dir=None, batch_size=128, augment=False, seed=0, limit=None,
                        cache_dir=None, shuffle=None, first_epoch=0):
    """(image, image) batches of `split`: float32 [B, 28, 28, 1] in [0, 1],
    the target the input itself.

    The training split is shuffled anew every epoch from `seed` (another
    seed for a run resumed at `first_epoch`); `limit` keeps the first
    digits; `augment` and `cache_dir` are unused (no augmentation: the
    digits are reconstructed as they are).
    """
    x = images(split, data_dir, limit)
    ds = tf.data.Dataset.from_tensor_slices((x, x))
    if shuffle if shuffle is not None else split == "train":
        ds = ds.shuffle(len(x), seed=resumed_seed(seed, first_epoch), reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# -- PCA, the baseline -------------------------------------------------------

def fit_pca(train_images):
    """(mean [784], components [784, 784]): the principal axes of
    `train_images` ([N, ...] of 784 pixels), by falling variance (the
    eigenvectors of their covariance, in float64)."""
    x = np.asarray(train_images, np.float64).reshape(len(train_images), -1)
    mean = x.mean(axis=0)
    centred = x - mean
    variances, vectors = np.linalg.eigh(centred.T @ centred / len(x))
    return mean, vectors[:, np.argsort(variances)[::-1]]


def pca_squared_errors(pca, held_images, max_components=MAX_COMPONENTS):
    """[N, max_components + 1]: each digit's mean squared error (per pixel)
    when PCA reconstructs it from k = 0, 1, ... max_components components."""
    mean, components = pca
    x = np.asarray(held_images, np.float64).reshape(len(held_images), -1) - mean
    projections = x @ components[:, :max_components]
    total = np.square(x).sum(axis=1, keepdims=True)
    kept = np.concatenate([np.zeros((len(x), 1)), np.cumsum(np.square(projections), axis=1)], axis=1)
    return np.maximum(total - kept, 0.0) / x.shape[1]


def pca_reconstruct(pca, held_images, components):
    """PCA's reconstructions of `held_images` from `components` components,
    in their shape."""
    mean, axes = pca
    x = np.asarray(held_images, np.float64).reshape(len(held_images), -1)
    basis = axes[:, :components]
    return (((x - mean) @ basis) @ basis.T + mean).reshape(np.shape(held_images))


@functools.lru_cache(maxsize=4)
def _pca_of(data_dir, fingerprint):  # noqa: ARG001 (the files' fingerprint: a cache key)
    return fit_pca(images("train", data_dir))


def training_pca(data_dir=None):
    """PCA fitted on the training digits of `data_dir` (cached)."""
    path = resolve_data_dir(data_dir)
    return _pca_of(str(path), idx.fingerprint(path))


LABEL_DTYPE = np.dtype([("image", np.float32, (28, 28, 1)),
                        ("pca_squared_error", np.float64, (MAX_COMPONENTS + 1,))])


def held_out(split, data_dir=None, cache_dir=None, **options):
    """({"image": float32 [N, 28, 28, 1]}, labels): the labels a record
    array [N] of each digit (`image`, the target) and its PCA errors
    (`pca_squared_error` [65]: with 0..64 components, PCA fitted on the
    training digits), so that `score` compares with as many components as
    the served code has numbers."""
    x = images(split, data_dir)
    labels = np.empty(len(x), LABEL_DTYPE)
    labels["image"] = x
    labels["pca_squared_error"] = pca_squared_errors(training_pca(data_dir), x)
    return {"image": x}, labels


def score(outputs, inputs, labels):
    """The served reconstruction's mean squared error (also the "error"),
    PCA's with as many components as the code has, and their ratio."""
    target = np.asarray(labels["image"], np.float64)
    reconstruction = np.asarray(outputs["reconstruction"], np.float64)
    per_digit = np.square(reconstruction - target).reshape(len(target), -1).mean(axis=1)
    components = int(np.shape(outputs["code"])[-1])
    pca = float(np.asarray(labels["pca_squared_error"])[:, components].mean())
    mse = float(per_digit.mean())
    return {"error": mse, "mse": mse, "pca_mse": pca, "ratio_to_pca": mse / pca,
            "code_size": components}


# -- the training loss and metrics ----------------------------------------------
# The model returns its two decodings stacked, [B, 28, 28, 2] (0: with the
# switches, served; 1: from the code alone); the target is the image [B, 28, 28, 1].

def _squared_error(y_true, y_pred, channel=None):
    y_pred = y_pred if channel is None else y_pred[..., channel:channel + 1]
    return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=(1, 2, 3))


def decodings_squared_error(y_true, y_pred):
    """Each digit's mean squared error of both decodings against the image, averaged."""
    return _squared_error(y_true, y_pred)


def switches_squared_error(y_true, y_pred):
    """Each digit's mean squared error of the decoding with the switches (served)."""
    return _squared_error(y_true, y_pred, 0)


def code_only_squared_error(y_true, y_pred):
    """Each digit's mean squared error of the decoding from the code alone."""
    return _squared_error(y_true, y_pred, 1)


def switches_fit(y_true, y_pred):
    """1 - `switches_squared_error`."""
    return 1.0 - _squared_error(y_true, y_pred, 0)


def decodings_loss():
    """The training loss (a factory, as `Task.loss` takes): `decodings_squared_error`."""
    return decodings_squared_error


def fit_metric():
    """1 - the served decoding's mean squared error: its complement, the
    error of `Task.error_metric`, is the MSE."""
    return keras.metrics.MeanMetricWrapper(switches_fit, name="fit")


def switches_mse_metric():
    return keras.metrics.MeanMetricWrapper(switches_squared_error, name="mse_switches")


def code_only_mse_metric():
    return keras.metrics.MeanMetricWrapper(code_only_squared_error, name="mse_code_only")


TASKS = {"mnist_autoencoder": Task(
    name="mnist_autoencoder",
    dataset=autoencoder_dataset,
    loss=decodings_loss,
    metrics=(fit_metric, switches_mse_metric, code_only_mse_metric),
    error_metric="fit",
    prediction_output="reconstruction",
    description=("MNIST digits from IDX files to reconstruct: the last 1,000 held out as test, the "
                 "1,000 before them as validation, the rest (6,000 of 8,000) for training and "
                 "for PCA, the baseline"),
    held_out=held_out,
    score=score,
)}


# -- the report: both decodings, PCA, the switches' bits ----------------------

def report(split="test", data_dir=None, weights="pretrained", batch_size=250):
    """Figures of `conv_autoencoder_mnist` (pretrained, or a `.weights.h5`,
    built as its run was) on `split`: the mean squared error with the
    switches (served) and from the code alone, PCA's with as many
    components, the ratios, the bits the switches carry, and how many PCA
    components reconstruct as well as each decoding."""
    import zoo
    from zoo import conv_autoencoder

    entry = zoo.get("conv_autoencoder_mnist")
    if weights == "pretrained":
        model = entry.load_pretrained()
    else:  # built as its run was (the `metrics.json` beside it), as training.train loads it
        record = Path(weights).with_name("metrics.json")
        config = json.loads(record.read_text()).get("model_config") if record.exists() else None
        model = entry.builder(**config) if config else entry.build("paper")
        model.load_weights(weights)
    x = images(split, data_dir)
    decodings = np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                                for i in range(0, len(x), batch_size)])
    errors = np.square(decodings.astype(np.float64) - x).reshape(len(x), -1, 2).mean(axis=1)
    code_size = model.get_layer("code").units
    pca_curve = pca_squared_errors(training_pca(data_dir), x, PIXELS).mean(axis=0)  # by components
    pca = float(pca_curve[code_size])
    switches, code_only = (float(e) for e in errors.mean(axis=0))
    matching = lambda mse: int(np.argmax(pca_curve <= mse)) if pca_curve[-1] <= mse else None  # noqa: E731
    uses_switches = conv_autoencoder.uses_switches(model)
    filters = (model.get_layer("conv_1").filters, model.get_layer("conv_2").filters)
    entropy = switch_entropy_bits(model, x) if uses_switches else 0.0
    return {
        "split": split, "examples": int(len(x)), "code_size": int(code_size),
        "switches": uses_switches,
        "mse_switches": switches, "mse_code_only": code_only, "pca_mse": pca,
        "ratio_switches_to_pca": switches / pca, "ratio_code_only_to_pca": code_only / pca,
        "switch_bits_per_image": conv_autoencoder.switch_bits(filters) if uses_switches else 0,
        # An upper bound on what they carry: the sum of each switch's entropy over the split's digits.
        "switch_marginal_entropy_bits": round(float(entropy), 1),
        "code_floats_per_image": int(code_size),
        # The fewest PCA components that reconstruct as well (None: not even all 784).
        "pca_components_as_good_as_switches": matching(switches),
        "pca_components_as_good_as_code_only": matching(code_only),
    }


def switch_entropy_bits(model, x, batch_size=250):
    """The sum over the pooled units of the entropy (bits) of where in its
    2 x 2 window each unit's maximum lies, estimated over the digits `x`:
    an upper bound on the switches' joint entropy, the most they can pass
    to the decoder per digit (beside their raw 2 bits a unit)."""
    layers = [model.get_layer(name) for name in ("pool_1", "pool_2")]
    probe = keras.Model(model.input, [layer.output[1] for layer in layers])
    total = 0.0
    for layer, switches in zip(layers, probe.predict(x, batch_size=batch_size, verbose=0)):
        _, height, width, channels = layer.input.shape
        flat = np.asarray(switches).reshape(len(x), -1)
        row, col = flat // channels // width, flat // channels % width
        where = (row % 2) * 2 + col % 2  # 0..3: the position in the window
        shares = np.stack([(where == k).mean(axis=0) for k in range(4)])  # [4, units]
        total += float(-(shares * np.log2(np.where(shares > 0, shares, 1.0))).sum())
    return total


def main(argv=None):
    parser = argparse.ArgumentParser(description=report.__doc__)
    parser.add_argument("--split", default="test", choices=SPLITS)
    parser.add_argument("--data-dir", help="data directory (default: $SPECIALNETS_DATA)")
    parser.add_argument("--weights", default="pretrained", help="pretrained or a .weights.h5")
    args = parser.parse_args(argv)
    print(json.dumps(report(args.split, args.data_dir, args.weights), indent=2))


if __name__ == "__main__":
    main()
