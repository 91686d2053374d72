"""MNIST from IDX files: a reader and a tensorflow-datasets builder over it.

The data directory holds one pair of IDX files (gzip-compressed or not),
`*images-idx3-ubyte[.gz]` and `*labels-idx1-ubyte[.gz]`, either directly or
in an `mnist/` sub-directory. The last `VALIDATION_SIZE` digits form the
validation split, the others the training split.
"""

import functools
import gzip
import hashlib
from pathlib import Path

import numpy as np

from training.tasks import base

VALIDATION_SIZE = 1000
MANUAL_INSTRUCTIONS = (
    "Place one pair of MNIST IDX files (*images-idx3-ubyte[.gz], "
    "*labels-idx1-ubyte[.gz]) in the manual directory."
)
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def read_idx(path, magic):
    """Reads an IDX file (`magic` 2051: images, 2049: labels) as uint8."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: cannot read IDX file ({error}).") from error
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes).")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(
            f"{path}: IDX magic number is {found}, expected {magic} "
            f"({'images' if magic == IMAGE_MAGIC else 'labels'})."
        )
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    size = int(np.prod(dims))
    if len(data) - header != size:
        raise ValueError(
            f"{path}: header announces {dims} = {size} bytes of data, "
            f"the file holds {len(data) - header}."
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def find_files(data_dir):
    """Returns (images_path, labels_path) under `data_dir` or `data_dir/mnist`."""
    data_dir = Path(data_dir)
    for directory in (data_dir / "mnist", data_dir):
        images = sorted(directory.glob("*images-idx3-ubyte*"))
        labels = sorted(directory.glob("*labels-idx1-ubyte*"))
        if images or labels:
            if len(images) != 1 or len(labels) != 1:
                raise ValueError(
                    f"{directory}: expected exactly one '*images-idx3-ubyte[.gz]' "
                    f"and one '*labels-idx1-ubyte[.gz]' file; found "
                    f"{[p.name for p in images + labels]}."
                )
            return images[0], labels[0]
    raise FileNotFoundError(
        f"No MNIST IDX files in {data_dir} or {data_dir / 'mnist'}: expected "
        "'*images-idx3-ubyte[.gz]' and '*labels-idx1-ubyte[.gz]'."
    )


def load(data_dir):
    """Returns (images uint8 [N, 28, 28], labels uint8 [N]) from `data_dir`."""
    images_path, labels_path = find_files(data_dir)
    images = read_idx(images_path, IMAGE_MAGIC)
    labels = read_idx(labels_path, LABEL_MAGIC)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: images are {images.shape[1:]}, not 28x28.")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} "
            f"holds {len(labels)} labels."
        )
    if labels.max(initial=0) > 9:
        raise ValueError(f"{labels_path}: labels must be digits 0-9.")
    return images, labels


def split_indices(count, split):
    """Indices of `split` among `count`: "train", "validation", "all", or
    "validation_a" / "validation_b", the first and second halves of
    "validation" (select on one, report the other as a second check)."""
    if count <= VALIDATION_SIZE and split != "all":
        raise ValueError(
            f"MNIST data holds {count} digits: too few to hold out "
            f"{VALIDATION_SIZE} for validation; use split 'all'."
        )
    start, half = count - VALIDATION_SIZE, VALIDATION_SIZE // 2
    ranges = {
        "train": range(0, start),
        "validation": range(start, count),
        "validation_a": range(start, start + half),
        "validation_b": range(start + half, count),
        "all": range(count),
    }
    if split not in ranges:
        raise ValueError(f"`split` must be one of {list(ranges)}; received {split!r}.")
    return ranges[split]


def fingerprint(data_dir):
    """A short hash of the IDX files' names, sizes and times (cache key)."""
    digest = hashlib.sha256()
    for path in find_files(data_dir):
        stat = path.stat()
        digest.update(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


@functools.cache  # tfds registers a builder class by name: define it once
def _builder_class():
    import tensorflow_datasets as tfds
    from etils import epath

    class SpecialnetsMnist(tfds.core.GeneratorBasedBuilder):
        """MNIST digits from local IDX files, split train / validation."""

        VERSION = tfds.core.Version("1.0.0")
        # Where tfds looks for checksums and metadata; set, so that it need not
        # resolve this package through importlib.resources (editable installs).
        pkg_dir_path = epath.Path(__file__).parent
        MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_INSTRUCTIONS

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict(
                    {
                        "image": tfds.features.Image(shape=(28, 28, 1)),
                        "label": tfds.features.ClassLabel(num_classes=10),
                    }
                ),
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):
            images, labels = load(dl_manager.manual_dir)
            return {
                split: self._generate_examples(images, labels, split)
                for split in ("train", "validation")
            }

        def _generate_examples(self, images, labels, split):
            for i in split_indices(len(images), split):
                yield i, {"image": images[i][..., None], "label": int(labels[i])}

    return SpecialnetsMnist


def prepare(builder_class, data_dir, cache_dir, prefix, config=None):
    """Prepares a tfds builder whose manual directory holds MNIST IDX files.

    The TFRecords live in `cache_dir/<prefix>-<fingerprint of the files>`,
    so that changing the data directory never reads stale records.
    """
    import tensorflow_datasets as tfds

    manual_dir = find_files(data_dir)[0].parent
    tfds_dir = Path(cache_dir) / f"{prefix}-{fingerprint(data_dir)}"
    kwargs = {"config": config} if config else {}
    prepared = builder_class(data_dir=str(tfds_dir), **kwargs)
    return base.prepare(prepared, download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))


def builder(data_dir, cache_dir):
    """A prepared tensorflow-datasets builder over the IDX files of `data_dir`."""
    return prepare(_builder_class(), data_dir, cache_dir, "mnist")
