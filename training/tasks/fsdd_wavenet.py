"""`fsdd_wavenet`: FSDD recordings as waveforms to model (WaveNet), with their digit.

The recordings and splits are `training/tasks/fsdd.py`'s (read with its
reader): training indices 10..49, validation 5..9. Training batches hold a
random crop of `crop` samples of each recording (the whole recording when
it is shorter, zero-padded to `crop`), in a new order and with new crops every epoch, drawn from
`(seed, epoch)`; the validation batches (the `val_loss` of training) hold
the first `validation_limit` validation recordings whole (zero-padded to a
multiple of `crop`). Inputs are
{"waveform", "digit"}, the target is the waveform itself: the loss
(`BitsPerSample`) is the mean -log2 likelihood of the mu-law codes after
the first of each signal (zeros after the last nonzero sample are padding),
over all such samples of the batch.

The held-out figure (`held_out`, `score`) is `bits_per_sample` of the
serving signature on every validation recording, weighted by the samples
it scores: the total bits over the total samples.

`python -m training.tasks.fsdd_wavenet [--data-dir DIR]` prints the
baselines: a mu-law unigram and a sample-to-sample bigram (add-one
smoothing), fitted on the training recordings, in bits per sample on the
validation recordings (and on the training ones).
`python -m training.tasks.fsdd_wavenet --judge N` has the pretrained
`wavenet_fsdd` generate N digits of each kind and the pretrained
`cldnn_fsdd` name them: whether what it generates is heard as the digit
asked.
"""

import keras
import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter
from training.tasks import fsdd
from training.tasks.base import Task
from zoo.wavenet import QUANTIZATION, mu_law_encode, scored_bits


def _crop(waveform, crop, rng):
    if len(waveform) <= crop:
        return waveform
    start = int(rng.integers(0, len(waveform) - crop + 1))
    return waveform[start:start + crop]


def dataset(split, data_dir=None, batch_size=8, augment=False, seed=0, limit=None, cache_dir=None,
            shuffle=None, first_epoch=0, crop=4000, validation_limit=None):
    """({"waveform" float32 [B, T], "digit" int32 [B]}, waveform [B, T]) batches of `split`
    (`augment`, `cache_dir`: unused)."""
    waveforms, labels, _ = fsdd.load(split, data_dir)
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < 2:
        raise ValueError(f"`crop` must be an int >= 2 (samples); received {crop!r}.")
    training = split == "train"
    limit = limit if training else (validation_limit or limit)
    if limit:
        waveforms, labels = waveforms[:limit], labels[:limit]
    shuffle = training if shuffle is None else shuffle
    lengths = [len(w) for w in waveforms]
    epochs = EpochCounter(first_epoch)

    def one_epoch():
        rng = np.random.default_rng([seed, epochs.draw()])
        if training:
            order = rng.permutation(len(waveforms)) if shuffle else np.arange(len(waveforms))
            batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        else:
            batches = fsdd.batch_order(lengths, batch_size, rng if shuffle else None)
        for rows in batches:
            chosen = [_crop(waveforms[i], crop, rng) if training else waveforms[i] for i in rows]
            # Padded to a multiple of `crop` (training: to `crop`): few shapes, few traces.
            padded = fsdd.pad(chosen, -(-max(len(w) for w in chosen) // crop) * crop)
            yield {"waveform": padded, "digit": labels[rows].astype(np.int32)}, padded

    signature = ({"waveform": tf.TensorSpec((None, None), tf.float32), "digit": tf.TensorSpec((None,), tf.int32)},
                 tf.TensorSpec((None, None), tf.float32))
    ds = tf.data.Dataset.from_generator(one_epoch, output_signature=signature)
    count = -(-len(waveforms) // batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)


def scored_counts(waveforms):
    """Samples each recording scores: those after the first, up to its last nonzero one."""
    counts = []
    for w in waveforms:
        nonzero = np.flatnonzero(w)
        counts.append(max(int(nonzero[-1]) if len(nonzero) else 0, 0))
    return np.array(counts, np.int64)


def held_out(split, data_dir=None, cache_dir=None):
    """({"waveform": [N, T] sorted by length, zero-padded; "digit": int32 [N]}, scored samples [N])."""
    waveforms, labels, _ = fsdd.load(split, data_dir)
    order = np.argsort([len(w) for w in waveforms], kind="stable")
    chosen = [waveforms[i] for i in order]
    return ({"waveform": fsdd.pad(chosen), "digit": labels[order].astype(np.int32)}, scored_counts(chosen))


def score(outputs, inputs, labels):
    """Bits per sample over all scored samples ("error"), and the mean over recordings."""
    bits = np.asarray(outputs["bits_per_sample"], np.float64)
    counts = np.asarray(labels, np.float64)
    total = float((bits * counts).sum() / counts.sum())
    return {"error": total, "bits_per_sample": total, "mean_over_recordings": float(bits.mean()),
            "samples": int(counts.sum())}


@keras.saving.register_keras_serializable(package="special_networks")
class BitsPerSample(keras.losses.Loss):
    """Mean -log2 likelihood of the scored samples of the batch (y_true: the
    waveform [B, T]; y_pred: logits [B, T, 256], those at t predicting t + 1)."""

    def __init__(self, name="bits_per_sample", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        bits, count = scored_bits(y_true, y_pred)
        # Each row's share, scaled so that the mean over the batch is total bits / total samples.
        batch = tf.cast(tf.shape(bits)[0], tf.float32)
        return bits * batch / tf.maximum(tf.reduce_sum(count), 1.0)


@keras.saving.register_keras_serializable(package="special_networks")
class NextSampleAccuracy(keras.metrics.Mean):
    """The fraction of scored samples whose likeliest predicted code is right."""

    def __init__(self, name="next_sample_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        codes = mu_law_encode(y_true)
        right = tf.cast(tf.argmax(y_pred[:, :-1], axis=-1, output_type=tf.int32) == codes[:, 1:], self.dtype)
        lengths = tf.reduce_max(tf.cast(y_true != 0, tf.int32) * tf.range(1, tf.shape(y_true)[1] + 1)[None],
                                axis=1)
        scored = tf.cast(tf.range(1, tf.shape(y_true)[1])[None, :] < lengths[:, None], self.dtype)
        return super().update_state(right, sample_weight=scored)


def _codes(waveforms):
    """The mu-law codes of each recording's signal (up to its last nonzero sample)."""
    out = []
    for w, n in zip(waveforms, scored_counts(waveforms)):
        out.append(np.asarray(mu_law_encode(w[:n + 1])))
    return out


def baselines(data_dir=None):
    """Bits per scored sample of a mu-law unigram and bigram (add-one), fitted on `train`."""
    train = _codes(fsdd.load("train", data_dir)[0])
    unigram = np.ones(QUANTIZATION)
    bigram = np.ones((QUANTIZATION, QUANTIZATION))
    for c in train:
        np.add.at(unigram, c, 1)
        np.add.at(bigram, (c[:-1], c[1:]), 1)
    log_unigram = np.log2(unigram / unigram.sum())
    log_bigram = np.log2(bigram / bigram.sum(axis=1, keepdims=True))
    figures = {}
    for split, codes in (("validation", _codes(fsdd.load("validation", data_dir)[0])), ("train", train)):
        n = sum(len(c) - 1 for c in codes)
        figures[split] = {
            "unigram": float(-sum(log_unigram[c[1:]].sum() for c in codes) / n),
            "bigram": float(-sum(log_bigram[c[:-1], c[1:]].sum() for c in codes) / n),
            "samples": int(n),
        }
    return figures


def judge(per_digit=10, num_samples=6000, seed=0):
    """`cldnn_fsdd`'s verdict on `per_digit` generations of each digit by
    `wavenet_fsdd` (pretrained both, generation seed `(seed, 0)`):
    accuracy, the confusion counts [asked, heard], and the heard digits of
    silence and of white noise at the generations' RMS as controls."""
    import zoo
    from zoo import wavenet

    asked = np.repeat(np.arange(10), per_digit)
    generated = wavenet.generate_waveform(zoo.get("wavenet_fsdd").load_pretrained(), asked, num_samples,
                                          seed=(seed, 0))
    classifier = zoo.get("cldnn_fsdd").load_pretrained()
    heard = classifier.predict(generated, batch_size=50, verbose=0).argmax(-1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (asked, heard), 1)
    rms = float(np.sqrt(np.mean(generated ** 2)))
    noise = np.random.default_rng(seed).normal(0, rms, (per_digit, num_samples)).astype(np.float32)
    controls = classifier.predict(np.concatenate([np.zeros((1, num_samples), np.float32), noise]),
                                  verbose=0).argmax(-1)
    return {"accuracy": float(np.mean(heard == asked)), "generated": int(asked.size),
            "num_samples": int(num_samples), "confusion_asked_by_heard": confusion.tolist(),
            "heard_as": np.bincount(heard, minlength=10).tolist(), "rms": rms,
            "silence_heard_as": int(controls[0]), "noise_heard_as": np.bincount(controls[1:], minlength=10).tolist()}


TASKS = {"fsdd_wavenet": Task(
    name="fsdd_wavenet",
    dataset=dataset,
    loss=BitsPerSample,
    metrics=(NextSampleAccuracy,),
    error_metric="next_sample_accuracy",
    prediction_output="bits_per_sample",
    description=("FSDD recordings at 8 kHz with their digit: training recordings 10-49 of each digit and "
                 "speaker (2,400, random crops), validation 5-9 (300, whole); mu-law 256"),
    held_out=held_out,
    score=score,
)}


def main(argv=None):
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Bits per sample of the mu-law unigram and bigram baselines; "
                                                 "with --judge, cldnn_fsdd's verdict on generated digits.")
    parser.add_argument("--data-dir", help="directory holding fsdd/recordings (default: $SPECIALNETS_DATA)")
    parser.add_argument("--judge", type=int, metavar="N",
                        help="generate N digits of each kind (no data needed) and have cldnn_fsdd name them")
    parser.add_argument("--seconds", type=float, default=0.75, help="length of each generated digit (--judge)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (--judge)")
    args = parser.parse_args(argv)
    if args.judge is not None:
        if args.judge < 1 or not 0 < args.seconds <= 10:
            parser.error("--judge must be >= 1 and --seconds in (0, 10]")
        figures = judge(args.judge, int(round(args.seconds * 8000)), args.seed)
        figures["confusion_asked_by_heard"] = [" ".join(f"{v:3d}" for v in row)
                                               for row in figures["confusion_asked_by_heard"]]
        print(json.dumps(figures, indent=2))
        return
    print(json.dumps(baselines(args.data_dir), indent=2))


if __name__ == "__main__":
    main()
