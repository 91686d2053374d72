"""Free Spoken Digit Dataset (FSDD): 8 kHz recordings of the digits 0..9
by six speakers, `{digit}_{speaker}_{index}.wav`, read from a data
directory (`DIR/fsdd/recordings/`, `DIR/recordings/` or `DIR/` itself).

Splits by recording index, as the dataset's own split (the official test
part is indices 0..4 of every digit and speaker):
- `train`: indices 10..49 (2,400 recordings);
- `validation`: indices 5..9 (300), held out of training;
- `test`: indices 0..4 (300), the official test part: held out of the
  shared data, read only where a data directory holds it.

Training batches group recordings of similar length (zero-padded at the
end to the longest of the batch) and, with `augment`, speed up or slow
down, shift, scale and add noise to each recording: drawn from `(seed, epoch)`, so that runs
repeat and a resumed run goes on as an uninterrupted one would.
"""

import functools
import re
import wave
from pathlib import Path

import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter
from training.tasks.base import Task, resolve_data_dir

SAMPLE_RATE = 8000
FILENAME = re.compile(r"^([0-9])_([A-Za-z]+)_([0-9]+)\.wav$")
SPLITS = {"train": range(10, 50), "validation": range(5, 10), "test": range(0, 5)}
GROUP = 8  # batches whose recordings are sorted by length together


def recordings_dir(data_dir=None):
    """The directory holding the FSDD wav files under `data_dir` (or
    $SPECIALNETS_DATA): `fsdd/recordings/`, `recordings/` or itself."""
    root = resolve_data_dir(data_dir)
    for candidate in (root / "fsdd" / "recordings", root / "recordings", root):
        if candidate.is_dir() and any(FILENAME.match(p.name) for p in candidate.iterdir()):
            return candidate
    raise FileNotFoundError(
        f"No FSDD recordings under {root}: expected {root}/fsdd/recordings/"
        "{digit}_{speaker}_{index}.wav (8 kHz mono 16-bit WAV, e.g. 7_jackson_12.wav).")


def read_wav(path):
    """The samples of an 8 kHz mono 16-bit PCM WAV file, float32 in [-1, 1)."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            frames = f.readframes(f.getnframes())
    except (wave.Error, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a readable WAV file ({error}).") from None
    if (channels, width, rate) != (1, 2, SAMPLE_RATE):
        raise ValueError(f"{path}: expected mono 16-bit PCM at {SAMPLE_RATE} Hz; the file has "
                         f"{channels} channel(s), {8 * width}-bit samples at {rate} Hz.")
    if len(frames) % 2:
        raise ValueError(f"{path}: truncated data ({len(frames)} bytes of 16-bit samples).")
    return np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {list(SPLITS)}; received {split!r}.")


@functools.cache
def _load(directory, split):
    files = []
    for path in Path(directory).iterdir():
        match = FILENAME.match(path.name)
        if match and int(match[3]) in SPLITS[split]:
            files.append(((int(match[3]), match[2], int(match[1])), path))
    if not files:
        indices = SPLITS[split]
        raise FileNotFoundError(
            f"No FSDD recordings of the {split!r} split (indices {indices.start}..{indices.stop - 1} "
            f"of each digit and speaker) in {directory}"
            + (": the official test part is held out of the shared data." if split == "test" else "."))
    files.sort()  # by index, speaker, digit: any prefix mixes the digits
    waveforms = tuple(read_wav(path) for _, path in files)
    labels = np.array([digit for (_, _, digit), _ in files], np.int64)
    names = tuple(path.name for _, path in files)
    return waveforms, labels, names


def load(split, data_dir=None):
    """(waveforms: tuple of float32 [T_i], labels int64 [N], file names) of `split`."""
    _check_split(split)
    return _load(str(recordings_dir(data_dir).resolve()), split)


def pad(waveforms, length=None):
    """float32 [N, length or the longest]: the waveforms zero-padded at the end."""
    length = max((len(w) for w in waveforms), default=0) if length is None else length
    out = np.zeros((len(waveforms), length), np.float32)
    for row, waveform in zip(out, waveforms):
        row[:len(waveform)] = waveform[:length]
    return out


def augment_waveform(waveform, rng, shift_ms=100.0, gain_db=12.0, snr_db=(15.0, 45.0), unshifted=0.0,
                     speed=0.0):
    """One training copy of `waveform`: played faster or slower by a factor
    in 1 +- `speed` (resampled: tempo and pitch change together, as in speed
    perturbation; 0: never), up to `shift_ms` of silence before it (FSDD
    recordings are trimmed: nothing is cut; with probability `unshifted`
    none, as the held-out recordings start), a gain of +-`gain_db` (scaled
    back into [-1, 1] where it would clip), and Gaussian noise at a
    signal-to-noise ratio drawn from `snr_db` (over the whole copy)."""
    if speed:
        factor = rng.uniform(1.0 - speed, 1.0 + speed)
        times = np.arange(0.0, len(waveform) - 1, factor)
        waveform = np.interp(times, np.arange(len(waveform)), waveform).astype(np.float32)
    shift = int(rng.integers(0, int(shift_ms * SAMPLE_RATE / 1000) + 1))
    if rng.uniform() < unshifted:
        shift = 0
    x = np.concatenate([np.zeros(shift, np.float32), waveform]) * 10 ** (rng.uniform(-gain_db, gain_db) / 20)
    rms = float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0
    x = x + rng.normal(0.0, rms * 10 ** (-rng.uniform(*snr_db) / 20), len(x))
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x / peak if peak > 1.0 else x).astype(np.float32)


def batch_order(lengths, batch_size, rng=None):
    """Batches (lists of indices) of recordings of similar length: without
    `rng`, all sorted by length; with it, shuffled, sorted within groups of
    `GROUP` batches, and the batches shuffled."""
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), batch_size * GROUP):
        group = order[start:start + batch_size * GROUP]
        group = group[np.argsort(lengths[group], kind="stable")]
        batches += [group[i:i + batch_size] for i in range(0, len(group), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fsdd_dataset(split, data_dir=None, batch_size=32, augment=False, seed=0, limit=None,
                 cache_dir=None, shuffle=None, first_epoch=0, shift_ms=100.0, gain_db=12.0,
                 snr_db=(15.0, 45.0), unshifted=0.0, speed=0.0):
    """(waveform float32 [B, T_batch], digit int64 [B]) batches of `split`.

    Training batches (and any with `shuffle`) come in a new order every
    epoch, drawn from `(seed, epoch)`; with `augment` each recording is
    shifted, scaled and made noisy (`augment_waveform`'s options) from the same draw.
    Held-out splits come sorted by length. `limit` keeps the first
    recordings (ordered by index, speaker, digit); `cache_dir` is unused.
    """
    waveforms, labels, _ = load(split, data_dir)
    if limit:
        waveforms, labels = waveforms[:limit], labels[:limit]
    shuffle = split == "train" if shuffle is None else shuffle
    lengths = [len(w) for w in waveforms]
    batches = len(batch_order(lengths, batch_size))
    epochs = EpochCounter(first_epoch)
    options = dict(shift_ms=shift_ms, gain_db=gain_db, snr_db=tuple(snr_db), unshifted=unshifted, speed=speed)

    def one_epoch():
        rng = np.random.default_rng([seed, epochs.draw()])
        for indices in batch_order(lengths, batch_size, rng if shuffle else None):
            chosen = [augment_waveform(waveforms[i], rng, **options) if augment else waveforms[i]
                      for i in indices]
            yield pad(chosen), labels[indices]

    ds = tf.data.Dataset.from_generator(one_epoch, output_signature=(
        tf.TensorSpec((None, None), tf.float32), tf.TensorSpec((None,), tf.int64)))
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


def held_out(split, data_dir=None, cache_dir=None):
    """({"waveform": float32 [N, T] zero-padded to the longest}, digits int64 [N]) of `split`."""
    waveforms, labels, _ = load(split, data_dir)
    return {"waveform": pad(waveforms)}, labels


def score(outputs, inputs, labels):
    """Accuracy of `class_id`, its complement (the error), the wrong count."""
    right = np.asarray(outputs["class_id"]) == np.asarray(labels)
    return {"error": float(1.0 - right.mean()), "accuracy": float(right.mean()),
            "wrong": int((~right).sum())}


TASKS = {"fsdd": Task(
    name="fsdd",
    dataset=fsdd_dataset,
    loss="sparse_categorical_crossentropy",
    metrics=("sparse_categorical_accuracy",),
    error_metric="sparse_categorical_accuracy",
    prediction_output="class_id",
    description=("FSDD spoken digits, 8 kHz wav: training recordings 10-49 of each digit and speaker "
                 "(2,400), validation 5-9 (300); the official test part (0-4) held out"),
    held_out=held_out,
    score=score,
)}
