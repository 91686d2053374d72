"""Every layer of `custom_layers` on another Keras backend or device, against TensorFlow.

The layers use `keras.ops` only, so they should give TensorFlow's numbers on
JAX or PyTorch, on a GPU as on a CPU. This checks it: `save` runs each layer
on TensorFlow and saves its weights, inputs, outputs and gradients; `compare`
loads them wherever it runs and compares eager calls, compiled calls (XLA
with JAX or TensorFlow), a batch of one, gradients with respect to every
float input and weight, and `mixed_float16` / `mixed_bfloat16` calls.

    KERAS_BACKEND=tensorflow python scripts/cross_backend_check.py save ref.npz
    KERAS_BACKEND=jax python scripts/cross_backend_check.py compare ref.npz [--require-gpu]

`compare` needs only Keras, NumPy and the backend, not TensorFlow. Under JAX
and PyTorch it turns TF32 off, so that float32 is compared with float32.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
from keras import ops  # noqa: E402

import custom_layers as cl  # noqa: E402


def _float(shape):
    return ("float", shape)


def _int(shape, low, high):
    return ("int", shape, low, high)


def _localization():
    return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4, activation="tanh")])


# Memory slots: row 0 has two padded, row 1 none, row 2 one real slot.
_SLOTS = np.array([[1, 0, 0, 1], [1, 1, 1, 1], [1, 0, 0, 0]], bool)

# name: (factory taking a dtype policy, input specs, call kwargs)
CASES = {
    "highway": (lambda d: cl.Highway(activation="tanh", transform_bias=-1.5, dtype=d),
                [_float((4, 5, 6))], {}),
    "highway_conv2d": (lambda d: cl.HighwayConv2D(kernel_size=3, activation="relu", dtype=d),
                       [_float((2, 6, 5, 3))], {}),
    "memory_hop": (lambda d: cl.MemoryHop(state_transform=True, dtype=d),
                   [_float((3, 5)), _float((3, 4, 5)), _float((3, 4, 5))],
                   {"return_attention": True}),
    "memory_hop_capacity": (lambda d: cl.MemoryHop(capacity=6, dtype=d),
                            [_float((3, 5)), _float((3, 4, 5)), _float((3, 4, 5))], {}),
    "memory_hop_capacity_masked": (lambda d: cl.MemoryHop(capacity=6, dtype=d),
                                   [_float((3, 5)), _float((3, 4, 5)), _float((3, 4, 5))],
                                   {"mask": [None, _SLOTS, _SLOTS], "return_attention": True}),
    "memory_hop_prior": (lambda d: cl.MemoryHop(dtype=d),
                         [_float((3, 5)), _float((3, 4, 5)), _float((3, 4, 5)), _float((3, 4))],
                         {"return_attention": True}),
    "attention_shift": (lambda d: cl.AttentionShift(radius=1, dtype=d),
                        [_float((3, 5)), _float((3, 4, 3))], {}),
    "sentence_encoder": (lambda d: cl.SentenceEncoder(temporal=True, max_sentences=6, dtype=d),
                         [_float((3, 4, 5, 6))], {}),
    "null_memory": (lambda d: cl.NullMemory(initializer="random_normal", dtype=d),
                    [_float((3, 4, 5))], {}),
    "coordinate_channels": (lambda d: cl.CoordinateChannels("linear", dtype=d),
                            [_float((2, 3, 4, 2))], {}),
    "answer_embedding": (lambda d: cl.AnswerEmbedding(7, 5, answer_ids=[3, -1, 2, -1], dtype=d),
                         [_float((3, 5))], {"readout": True}),
    "answer_embedding_lookup": (lambda d: cl.AnswerEmbedding(7, 5, answer_ids=[3, -1, 2], dtype=d),
                                [_int((3, 4), 0, 7)], {}),
    "last_words": (lambda d: cl.LastWords(3, dtype=d), [_int((3, 6), 0, 9)], {}),
    "pointer_attention": (lambda d: cl.PointerAttention(7, dtype=d),
                          [_float((3, 5)), _float((3, 6, 4))], {}),
    "pointer_decoder": (lambda d: cl.PointerDecoder(8, attention_units=6, end_token=True, dtype=d),
                        [_float((3, 5, 6)), _float((3, 5, 2)), _int((3, 4), -1, 6)], {}),
    "pointer_generator": (lambda d: cl.PointerGenerator(max_oov=3, dtype=d),
                          [_float((3, 2, 4)), _float((3, 2, 6)), _float((3, 2, 2)),
                           _float((3, 2, 7)), _float((3, 2, 5)), _int((3, 5), 0, 10)], {}),
    "sampling_grid": (lambda d: cl.SamplingGrid((3, 4), dtype=d),
                      [_float((2, 6))], {}),
    "bilinear_sampler": (lambda d: cl.BilinearSampler(dtype=d),
                         [_float((2, 6, 5, 3)), _float((2, 4, 4, 2))], {}),
    "spatial_transformer": (lambda d: cl.SpatialTransformer(_localization(), (4, 3), dtype=d),
                            [_float((2, 6, 5, 1))], {}),
    # The cells run inside their RNN layers: a cell alone takes states, not data.
    "ntm": (lambda d: cl.NTM(6, 5, 4, read_heads=2, shift_range=3, seed=1, dtype=d),
            [_float((3, 4, 5))], {}),
    "ntm_feedforward": (lambda d: cl.NTM(6, 5, 4, controller="feedforward", memory_init="learned",
                                         seed=1, dtype=d),
                        [_float((3, 4, 5))], {}),
    "stack_rnn": (lambda d: cl.StackRNN(6, num_stacks=2, stack_depth=5, element_size=2, dtype=d),
                  [_float((3, 4, 3))], {}),
    # A Grid LSTM block takes its hidden vectors and memories as data: [h_0, h_1, h_2, m_0, m_2].
    "grid_lstm_cell": (lambda d: cl.GridLSTMCell(5, 3, kinds=("lstm", "plain", "lstm"), priority=(2, 0),
                                                 dtype=d),
                       [_float((3, 5)), _float((3, 4)), _float((3, 6)), _float((3, 5)), _float((3, 5))], {}),
    "grid_lstm1d": (lambda d: cl.GridLSTM1D(6, depth=5, tied=True, dtype=d), [_float((3, 7))], {}),
    "grid_lstm2d": (lambda d: cl.GridLSTM2D(6, depth=2, priority=(1,), dtype=d), [_float((3, 4, 5))], {}),
    "grid_lstm3d": (lambda d: cl.GridLSTM3D(5, depth=2, tied=True, kinds=("lstm", "plain", "lstm"),
                                            block_size=(2, 1), return_grid=True, dtype=d),
                    [_float((2, 4, 3, 2))], {}),
    "reflection_padding1d": (lambda d: cl.ReflectionPadding1D((2, 1), mode="symmetric", dtype=d),
                             [_float((3, 5, 4))], {}),
    "reflection_padding2d": (lambda d: cl.ReflectionPadding2D(((1, 2), (2, 0)), dtype=d),
                             [_float((2, 5, 6, 3))], {}),
    "l2_pooling2d": (lambda d: cl.L2Pooling2D(3, strides=2, padding="same", dtype=d),
                     [_float((2, 7, 9, 3))], {}),
    # Two outputs: the pooled values and the int64 switches (compared exactly, see `_tolerance`).
    "max_pooling_with_argmax2d": (lambda d: cl.MaxPoolingWithArgmax2D(3, strides=2, padding="same",
                                                                      dtype=d),
                                  [_float((2, 7, 9, 3))], {}),
    "max_unpooling2d": (lambda d: cl.MaxUnpooling2D(3, strides=2, padding="same", output_size=(7, 9),
                                                    dtype=d),
                        [_float((2, 4, 5, 3)), _int((2, 4, 5, 3), 0, 7 * 9 * 3)], {}),
    "causal_conv1d": (lambda d: cl.CausalConv1D(4, kernel_size=3, dilation_rate=2, dtype=d),
                      [_float((2, 9, 3))], {}),
    # Two outputs: the residual and the skip; conditioned on a vector h.
    "wavenet_block": (lambda d: cl.WaveNetBlock(4, 5, 6, kernel_size=2, dilation_rate=2, dtype=d),
                      [_float((2, 9, 4)), _float((2, 3))], {}),
    "glu_conv1d": (lambda d: cl.GLUConv1D(kernel_size=3, causal=True, dtype=d), [_float((2, 7, 4))], {}),
    # Decoder states h [B,T,D], target embeddings g, encoder outputs z and z + e [B,S,E].
    "convs2s_attention": (lambda d: cl.ConvS2SAttention(dtype=d),
                          [_float((2, 5, 6)), _float((2, 5, 4)), _float((2, 7, 4)), _float((2, 7, 4))], {}),
}


def _inputs(specs, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s[1]).astype("float32") if s[0] == "float"
            else rng.integers(s[2], s[3], size=s[1]).astype("int32") for s in specs]


def _call_arg(inputs):
    return inputs if len(inputs) > 1 else inputs[0]


def _flat(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _built(name, dtype=None, weights=None, inputs=None):
    make, specs, kwargs = CASES[name]
    layer = make(dtype)
    layer(_call_arg(inputs), **kwargs)  # builds every sublayer
    if weights is not None:
        layer.set_weights(weights)
    return layer


class _Backend:
    """Compiled calls and gradients: the only backend-specific code here."""

    name = keras.backend.backend()

    def compiled(self, layer, kwargs):
        if self.name == "jax":
            import jax

            def call(trainable, non_trainable, inputs):
                return layer.stateless_call(trainable, non_trainable, _call_arg(inputs), **kwargs)[0]

            jitted = jax.jit(call)
            return lambda inputs: jitted([v.value for v in layer.trainable_variables],
                                         [v.value for v in layer.non_trainable_variables], inputs)
        if self.name == "tensorflow":
            import tensorflow as tf

            return tf.function(lambda inputs: layer(_call_arg(inputs), **kwargs), jit_compile=True)
        return None  # torch: eager only

    def gradients(self, layer, kwargs, inputs, projections):
        """d/d(float inputs, trainable weights) of sum(output * projection)."""
        floats = [i for i, x in enumerate(inputs) if x.dtype.kind == "f"]

        def objective(outputs):  # integer outputs (switches) have no gradient: left out
            return sum(ops.sum(ops.cast(o, "float32") * ops.convert_to_tensor(p))
                       for o, p in zip(_flat(outputs), projections) if _is_float(o))

        if self.name == "jax":
            import jax

            def loss(trainable, values):
                merged = list(inputs)
                for i, v in zip(floats, values):
                    merged[i] = v
                out, _ = layer.stateless_call(trainable, [v.value for v in layer.non_trainable_variables],
                                              _call_arg(merged), **kwargs)
                return objective(out)

            trainable = [v.value for v in layer.trainable_variables]
            g_weights, g_inputs = jax.jit(jax.grad(loss, argnums=(0, 1)))(
                trainable, [inputs[i] for i in floats])
            return [np.asarray(g) for g in list(g_inputs) + list(g_weights)]
        if self.name == "tensorflow":
            import tensorflow as tf

            tensors = [tf.constant(x) for x in inputs]
            with tf.GradientTape() as tape:
                tape.watch([tensors[i] for i in floats])
                loss = objective(layer(_call_arg(tensors), **kwargs))
            sources = [tensors[i] for i in floats] + [v.value for v in layer.trainable_variables]
            grads = tape.gradient(loss, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return [tf.convert_to_tensor(g).numpy() for g in grads]
        import torch

        tensors = [ops.convert_to_tensor(x) for x in inputs]
        for i in floats:
            tensors[i].requires_grad_(True)
        loss = objective(layer(_call_arg(tensors), **kwargs))
        sources = [tensors[i] for i in floats] + [v.value for v in layer.trainable_variables]
        grads = torch.autograd.grad(loss, sources, allow_unused=True, materialize_grads=True)
        return [g.detach().cpu().numpy() for g in grads]


def _first_row(kwargs):
    """The call arguments for the first example alone (masks sliced)."""
    if "mask" not in kwargs:
        return kwargs
    return {**kwargs, "mask": [None if m is None else m[:1] for m in kwargs["mask"]]}


def _is_float(tensor):
    return "float" in keras.backend.standardize_dtype(tensor.dtype)


def _tolerance(expected, tolerance):
    """Integer outputs (indices) must be equal; float ones within `tolerance`."""
    return tolerance if expected.dtype.kind == "f" else 0.0


def _numpy(outputs):
    return [np.asarray(ops.convert_to_numpy(o)) for o in _flat(outputs)]


def save(path):
    backend, arrays = _Backend(), {}
    for index, (name, (_, specs, kwargs)) in enumerate(CASES.items()):
        inputs = _inputs(specs, seed=index)
        layer = _built(name, inputs=inputs)
        # Zero-initialised weights (biases, the transformer's identity regression) made random: all count.
        rng = np.random.default_rng(100 + index)
        layer.set_weights([w if w.any() else rng.normal(scale=0.1, size=w.shape).astype(w.dtype)
                           for w in layer.get_weights()])
        outputs = _numpy(layer(_call_arg(inputs), **kwargs))
        projections = [np.random.default_rng(7).normal(size=o.shape).astype("float32") for o in outputs]
        grads = ([] if all(o.dtype.kind != "f" for o in outputs)
                 else backend.gradients(layer, kwargs, inputs, projections))
        for group, values in [("input", inputs), ("weight", layer.get_weights()), ("output", outputs),
                              ("projection", projections), ("grad", grads)]:
            for i, value in enumerate(values):
                arrays[f"{name}/{group}/{i}"] = value
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    print(f"wrote {len(CASES)} layers' references to {path}")


def _group(reference, name, group):
    values, i = [], 0
    while f"{name}/{group}/{i}" in reference:
        values.append(reference[f"{name}/{group}/{i}"])
        i += 1
    return values


def _compare(what, actual, expected, tolerance):
    actual, expected = np.asarray(actual, "float64"), np.asarray(expected, "float64")
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {expected.shape}")
    # Relative to each value, absolute below 1: masked logits of -1e9 stay comparable.
    error = float((np.abs(actual - expected) / (1.0 + np.abs(expected))).max(initial=0.0))
    if not error <= tolerance:
        raise AssertionError(f"{what}: max error {error:.2e}, over {tolerance:.0e}")
    return error


def compare(path, require_gpu=False, layers=None):
    """Compare every layer (or the `layers` named) with the references at `path`."""
    names = list(CASES) if layers is None else list(layers)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"`layers`: unknown {', '.join(unknown)}; expected some of {', '.join(CASES)}")
    backend = _Backend()
    if backend.name == "jax":
        import jax

        # float32 matmuls in full float32 (not TF32) for the float32 comparisons.
        jax.config.update("jax_default_matmul_precision", "highest")
        device = jax.devices()[0]
        gpu = device.platform == "gpu"
    elif backend.name == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        gpu = torch.cuda.is_available()
        device = torch.cuda.get_device_name(0) if gpu else "cpu"
    else:
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
        gpu = bool(tf.config.list_physical_devices("GPU"))
        device = tf.config.list_physical_devices("GPU") or "cpu"
    print(f"backend {backend.name} {keras.__version__} on {device}")
    if require_gpu and not gpu:
        raise SystemExit("--require-gpu: no GPU is visible to the backend")
    reference, failures = np.load(path), []
    for name in names:
        kwargs = CASES[name][2]
        inputs = _group(reference, name, "input")
        if not inputs:
            raise SystemExit(f"`reference` {path!r} has no values for {name!r}; make it again with `save`")
        expected = _group(reference, name, "output")
        errors = {}
        try:
            layer = _built(name, weights=_group(reference, name, "weight"), inputs=inputs)
            for i, (out, exp) in enumerate(zip(_numpy(layer(_call_arg(inputs), **kwargs)), expected)):
                errors["eager"] = _compare(f"{name} eager output {i}", out, exp, _tolerance(exp, 1e-4))
            compiled = backend.compiled(layer, kwargs)
            if compiled is not None:
                for i, (out, exp) in enumerate(zip(_numpy(compiled(inputs)), expected)):
                    errors["compiled"] = _compare(f"{name} compiled output {i}", out, exp,
                                                  _tolerance(exp, 1e-4))
                one = [x[:1] for x in inputs]
                for i, (out, exp) in enumerate(zip(_numpy(backend.compiled(layer, _first_row(kwargs))(one)),
                                                   expected)):
                    errors["batch of one"] = _compare(f"{name} batch of one {i}", out, exp[:1],
                                                      _tolerance(exp, 1e-4))
            grads = _group(reference, name, "grad")
            if grads:
                actual = backend.gradients(layer, kwargs, inputs, _group(reference, name, "projection"))
                for i, (g, exp) in enumerate(zip(actual, grads)):
                    errors["gradients"] = max(errors.get("gradients", 0.0),
                                              _compare(f"{name} gradient {i}", g, exp, 1e-3))
            if any(o.dtype.kind == "f" for o in expected):
                for policy in ("mixed_float16", "mixed_bfloat16"):
                    mixed = _built(name, policy, layer.get_weights(), inputs)
                    for i, (out, exp) in enumerate(zip(_numpy(mixed(_call_arg(inputs), **kwargs)),
                                                       expected)):
                        if exp.dtype.kind != "f":
                            continue  # indices of maxima: rounding to 16 bits may make ties
                        if not np.all(np.isfinite(out.astype("float32"))):
                            raise AssertionError(f"{name} {policy} output {i} is not finite")
                        errors[policy] = _compare(f"{name} {policy} output {i}", out, exp,
                                                  1e-2 if policy == "mixed_float16" else 5e-2)
        except Exception as error:  # report every layer, then fail
            failures.append(name)
            print(f"FAIL {name}: {type(error).__name__}: {error}")
            continue
        print(f"ok   {name:20s} " + "  ".join(f"{k} {v:.1e}" for k, v in errors.items()))
    if failures:
        raise SystemExit(f"{len(failures)} of {len(names)} layers differ: {', '.join(failures)}")
    print(f"all {len(names)} layers match TensorFlow's references on {backend.name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["save", "compare"])
    parser.add_argument("reference", help="the .npz of reference values")
    parser.add_argument("--require-gpu", action="store_true", help="fail unless the backend sees a GPU")
    parser.add_argument("--layers", nargs="+", metavar="NAME", help=f"only these: {', '.join(CASES)}")
    args = parser.parse_args(argv)
    if args.mode == "save":
        if keras.backend.backend() != "tensorflow":
            raise SystemExit("`save` makes TensorFlow's references: run it with KERAS_BACKEND=tensorflow")
        save(args.reference)
    else:
        if not os.path.exists(args.reference):
            raise SystemExit(f"`reference`: no such file {args.reference!r}; make it with `save`")
        compare(args.reference, args.require_gpu, args.layers)


if __name__ == "__main__":
    main()
