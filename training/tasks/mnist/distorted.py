"""Distorted MNIST of the Spatial Transformer paper (appendix A), from IDX files.

Variants (Jaderberg et al., 2015, appendix A.1):
- `R`: rotated by an angle in [-90, 90] degrees; 28x28.
- `RTS`: rotated in [-45, 45] degrees, scaled by 0.7-1.2 and placed at a
  random place of a 42x42 canvas.
- `P`: projective: scaled by 0.75-1.0, then each corner moved by N(0, 5 px).
- `E`: elastic: the 16 control points of a 4x4 grid moved by N(0, 1.5 px),
  a thin-plate spline through them; 28x28.
- `TC`: translated and cluttered: the digit at a random place of a 60x60
  canvas, with six 6x6 patches cut from random other digits.
Distortions are drawn from a NumPy generator seeded per (seed, split,
example), so a split is the same for a given seed whatever the batch size,
and `distort(..., epoch=k)` draws fresh ones for training epoch k. The
resampling uses this project's `SamplingGrid` and `BilinearSampler`.
"""

import functools

import numpy as np

from custom_layers import BilinearSampler, SamplingGrid
from custom_layers.sampling_grid import tps_control_points
from training.tasks.mnist import idx as mnist

VARIANTS = {"R": 28, "RTS": 42, "P": 28, "E": 28, "TC": 60}
DIGIT = 28


def _to_normalized(pixels, size):
    return (2.0 * pixels + 1.0) / size - 1.0


def _from_normalized(coords, size):
    return ((coords + 1.0) * size - 1.0) / 2.0


def _affine_theta(rng, variant):
    """Output (canvas) -> input (digit) normalised affine map, row-major 2x3."""
    canvas = VARIANTS[variant]
    if variant == "R":
        angle, scale = rng.uniform(-np.pi / 2, np.pi / 2), 1.0
    elif variant == "RTS":
        angle, scale = rng.uniform(-np.pi / 4, np.pi / 4), rng.uniform(0.7, 1.2)
    else:  # TC: translation only
        angle, scale = 0.0, 1.0
    half = DIGIT * scale / 2 * (abs(np.cos(angle)) + abs(np.sin(angle)))
    centre = np.array([canvas / 2 - 0.5] * 2)
    if canvas > DIGIT:  # anywhere the rotated, scaled digit's box fits (or is centred)
        low, high = half - 0.5, canvas - half - 0.5
        centre = rng.uniform(low, high, 2) if high > low else centre
    # canvas pixel p -> digit pixel q = R(-angle) (p - centre) / scale + 13.5
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, sin], [-sin, cos]]) / scale
    # compose with pixel <-> normalised maps: p = (n_out * canvas + canvas - 1) / 2
    a = rotation * canvas / DIGIT
    p0 = (canvas - 1) / 2.0
    q = rotation @ (np.array([p0, p0]) - centre) + (DIGIT - 1) / 2.0
    b = _to_normalized(q, DIGIT)
    return np.concatenate([np.c_[a, b][0], np.c_[a, b][1]])


def _projective_theta(rng):
    """Homography taking the output square to the scaled, jittered corners."""
    scale = rng.uniform(0.75, 1.0)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)
    moved = corners / scale + rng.normal(0, 5.0, (4, 2)) * 2 / DIGIT
    rows, rhs = [], []
    for (x, y), (u, v) in zip(corners, moved):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows), np.array(rhs))


def _elastic_theta(rng):
    control = tps_control_points()
    return (control + rng.normal(0, 1.5, control.shape) * 2 / DIGIT).ravel()


def _clutter(rng, canvas, images):
    """Six 6x6 patches cut from random digits at random places of the canvas."""
    for _ in range(6):
        source = images[rng.integers(len(images))]
        y, x = rng.integers(0, DIGIT - 6, 2)
        cy, cx = rng.integers(0, canvas.shape[0] - 6, 2)
        canvas[cy : cy + 6, cx : cx + 6] = np.maximum(
            canvas[cy : cy + 6, cx : cx + 6], source[y : y + 6, x : x + 6] / 255.0
        )


def distort(images, variant, seed, split="train", epoch=0, indices=None, clutter_from=None):
    """Distorted copies of `images` uint8 [N, 28, 28] as float32 [N, S, S, 1].

    Returns (distorted images, theta) where theta is the transform drawn for
    each example (its meaning depends on the variant). `indices` are the
    examples' ids in their split (default 0..N-1): they, the seed, the split
    and the epoch decide every random draw.
    """
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {sorted(VARIANTS)}; received {variant!r}.")
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (DIGIT, DIGIT):
        raise ValueError(f"`images` must be [N, 28, 28]; received shape {images.shape}.")
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    split_id = {"train": 0, "validation": 1, "test": 2, "all": 3}[split]
    rngs = [np.random.default_rng([seed, split_id, epoch, int(i)]) for i in indices]
    if variant == "P":
        thetas, transform = [_projective_theta(r) for r in rngs], "projective"
    elif variant == "E":
        thetas, transform = [_elastic_theta(r) for r in rngs], "tps"
    else:
        thetas, transform = [_affine_theta(r, variant) for r in rngs], "affine"
    thetas = np.array(thetas, "float32")
    size = VARIANTS[variant]
    grid = SamplingGrid((size, size), transform)(thetas)
    out = BilinearSampler()([images[..., None].astype("float32") / 255.0, grid])
    out = np.asarray(out).copy()
    if variant == "TC":
        pool = images if clutter_from is None else np.asarray(clutter_from)
        for rng, canvas in zip(rngs, out):
            _clutter(rng, canvas[..., 0], pool)
    return np.clip(out, 0.0, 1.0), thetas


@functools.cache  # tfds registers a builder class by name: define it once
def _builder_class():
    import tensorflow_datasets as tfds
    from etils import epath

    class SpecialnetsDistortedMnist(tfds.core.GeneratorBasedBuilder):
        """Distorted MNIST (R, RTS, P, E, TC) from local IDX files, seed 0."""

        VERSION = tfds.core.Version("1.0.0")
        BUILDER_CONFIGS = [
            tfds.core.BuilderConfig(name=variant.lower(), description=f"{variant}, {size}x{size}")
            for variant, size in VARIANTS.items()
        ]
        MANUAL_DOWNLOAD_INSTRUCTIONS = mnist.MANUAL_INSTRUCTIONS
        pkg_dir_path = epath.Path(__file__).parent  # see training/tasks/mnist/idx.py

        @property
        def variant(self):
            return self.builder_config.name.upper()

        def _info(self):
            size = VARIANTS[self.variant]
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(size, size, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }),
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):
            images, labels = mnist.load(dl_manager.manual_dir)
            return {
                split: self._generate_examples(images, labels, split)
                for split in ("train", "validation")
            }

        def _generate_examples(self, images, labels, split):
            indices = np.array(mnist.split_indices(len(images), split))
            for start in range(0, len(indices), 1000):
                chunk = indices[start : start + 1000]
                distorted, _ = distort(images[chunk], self.variant, 0, split, indices=chunk,
                                       clutter_from=images)
                for i, image in zip(chunk, distorted):
                    pixels = np.round(image * 255).astype(np.uint8)
                    yield int(i), {"image": pixels, "label": int(labels[i])}

    return SpecialnetsDistortedMnist


def builder(variant, data_dir, cache_dir):
    """A prepared tensorflow-datasets builder of `variant` (seed 0, quantised
    to uint8) over the MNIST IDX files of `data_dir`."""
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {sorted(VARIANTS)}; received {variant!r}.")
    return mnist.prepare(_builder_class(), data_dir, cache_dir, "distorted-mnist", variant.lower())
