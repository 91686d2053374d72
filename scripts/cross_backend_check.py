"""Do the layers compute the same under another Keras backend (and on a GPU)?

    python scripts/cross_backend_check.py save ref.npz                      # TensorFlow, here
    KERAS_BACKEND=jax python scripts/cross_backend_check.py compare ref.npz  # JAX, anywhere

`save` builds each layer of `custom_layers` on fixed inputs and stores its
inputs, weights and outputs; `compare` builds the same layers with the
other backend, loads the stored weights and checks its outputs, eager and
compiled (`model.predict`: jit under JAX, XLA-capable), against them. The
layers use `keras.ops` only, so the backends must agree to float32 rounding.
On an NVIDIA GPU, JAX multiplies float32 matrices in TF32 by default (about
1e-3 apart); set JAX_DEFAULT_MATMUL_PRECISION=highest to compare at float32.
"""

import sys

import keras
import numpy as np

from custom_layers import (AnswerEmbedding, BilinearSampler, Highway, HighwayConv2D, LastWords, MemoryHop,
                           NullMemory, PointerAttention, PointerDecoder, PointerGenerator, SamplingGrid,
                           SentenceEncoder, SpatialTransformer)

RNG = np.random.default_rng(0)


def _float(*shape):
    return RNG.normal(size=shape).astype("float32")


def _localization():
    return keras.Sequential([keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(8, activation="tanh")])


def _embed_and_read(layer, ids):
    """AnswerEmbedding both ways: look up the ids, then score answers with the first word."""
    return layer(layer(ids)[:, 0], readout=True)


def cases():
    """name -> (layer factory, list of inputs[, how to call the layer])."""
    grid = RNG.uniform(-1.1, 1.1, size=(2, 5, 6, 2)).astype("float32")
    ids = (RNG.integers(1, 9, size=(2, 4, 5)) * (RNG.random((2, 4, 5)) < 0.6)).astype("int32")
    targets = np.stack([RNG.permutation(6) for _ in range(2)]).astype("int32")
    source_ids = RNG.integers(0, 14, size=(2, 5)).astype("int32")
    return {
        "Highway": (lambda: Highway(), [_float(2, 3, 8)]),
        "HighwayConv2D": (lambda: HighwayConv2D(3), [_float(2, 6, 6, 4)]),
        "BilinearSampler": (lambda: BilinearSampler(), [_float(2, 7, 8, 3), grid]),
        "SamplingGrid": (lambda: SamplingGrid((5, 6)), [_float(2, 6)]),
        "PointerAttention": (lambda: PointerAttention(8), [_float(2, 6), _float(2, 5, 7)]),
        "SentenceEncoder": (lambda: SentenceEncoder(temporal=True, max_sentences=6), [_float(2, 4, 5, 6)]),
        "MemoryHop": (lambda: MemoryHop(state_transform=True), [_float(2, 6), _float(2, 5, 6), _float(2, 5, 6)]),
        "NullMemory": (lambda: NullMemory(initializer="random_normal"), [_float(2, 5, 6)]),
        "LastWords": (lambda: LastWords(7), [ids]),
        "AnswerEmbedding": (lambda: AnswerEmbedding(9, 6, [3, 5, -1, 8], embeddings_initializer="normal"),
                            [ids[:, 0]], _embed_and_read),
        "PointerDecoder": (lambda: PointerDecoder(8, glimpses=1, end_token=True),
                           [_float(2, 6, 5), _float(2, 6, 2), targets]),
        "PointerGenerator": (lambda: PointerGenerator(max_oov=3),
                             [_float(2, 4, 6), _float(2, 4, 5), _float(2, 4, 3), _float(2, 4, 11),
                              _float(2, 4, 5), source_ids]),
        "SpatialTransformer": (lambda: SpatialTransformer(_localization(), (6, 5)), [_float(2, 9, 10, 3)]),
    }


def _model(factory, inputs, call=None):
    symbolic = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in inputs]
    layer = factory()
    symbolic_in = symbolic if len(symbolic) > 1 else symbolic[0]
    output = call(layer, symbolic_in) if call else layer(symbolic_in)
    return keras.Model(symbolic, output), layer


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "compare"):
        raise SystemExit("usage: cross_backend_check.py save|compare FILE.npz")
    mode, path = sys.argv[1:]
    stored = dict(np.load(path)) if mode == "compare" else {}
    saved, failures = {}, []
    for name, (factory, inputs, *call) in cases().items():
        model, layer = _model(factory, inputs, *call)
        if mode == "save":
            # Zero-initialised weights (biases, the transformer's regression) made random: all count.
            layer.set_weights([w if w.any() else RNG.normal(scale=0.1, size=w.shape).astype(w.dtype)
                               for w in layer.get_weights()])
            saved.update({f"{name}/input{i}": x for i, x in enumerate(inputs)})
            saved.update({f"{name}/weight{i}": w for i, w in enumerate(layer.get_weights())})
            saved[f"{name}/output"] = keras.ops.convert_to_numpy(model(inputs))
            continue
        inputs = [stored[f"{name}/input{i}"] for i in range(len(inputs))]
        layer.set_weights([stored[f"{name}/weight{i}"] for i in range(len(layer.get_weights()))])
        expected = stored[f"{name}/output"]
        eager = keras.ops.convert_to_numpy(model(inputs))
        compiled = model.predict(inputs, verbose=0)
        for how, got in (("eager", eager), ("compiled", compiled)):
            error = float(np.max(np.abs(got.astype("float64") - expected))) if got.size else 0.0
            ok = got.shape == expected.shape and error <= 1e-4 * max(1.0, float(np.abs(expected).max()))
            print(f"{name:18s} {how:8s} max |difference| {error:.2e} {'ok' if ok else 'DIFFERENT'}")
            if not ok:
                failures.append(f"{name} ({how})")
    if mode == "save":
        np.savez(path, **saved)
        print(f"{len(cases())} layers -> {path} (backend {keras.backend.backend()})")
    else:
        print(f"backend {keras.backend.backend()}, devices: {_devices()}")
        if failures:
            raise SystemExit(f"different: {', '.join(failures)}")


def _devices():
    if keras.backend.backend() == "jax":
        import jax

        return ", ".join(str(d) for d in jax.devices())
    return "(see the backend)"


if __name__ == "__main__":
    main()
