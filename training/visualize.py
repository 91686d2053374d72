"""Pictures of what zoo models do: `specialnets visualize`."""

from pathlib import Path

import keras
import numpy as np

import zoo
from custom_layers import Highway, HighwayConv2D
from training.train import load_weights_file


def highway_gates(model, images):
    """Mean transform-gate output of every highway layer, per image: [layers, images]."""
    layers = [l for l in model.layers if isinstance(l, (Highway, HighwayConv2D))]
    probe = keras.Model(model.inputs, [l.input for l in layers])
    inputs = probe.predict(images, verbose=0)
    inputs = inputs if isinstance(inputs, list) else [inputs]
    gates = [keras.ops.convert_to_numpy(l.transform_gate(x)) for l, x in zip(layers, inputs)]
    return [l.name for l in layers], np.stack(
        [g.reshape(len(images), -1).mean(axis=1) for g in gates]
    ), gates


def visualize_highway_mnist(model, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = zoo.get("highway_mnist").example_inputs()["image"]
    names, mean_gates, gates = highway_gates(model, images)
    predicted = model.predict(images, verbose=0).argmax(-1)
    figure = plt.figure(figsize=(12, 5.5))
    grid = figure.add_gridspec(2, len(images) + 2)
    for i, image in enumerate(images):
        axis = figure.add_subplot(grid[0, i])
        axis.imshow(image[..., 0], cmap="gray")
        axis.set_title(f"-> {predicted[i]}", fontsize=9)
        axis.axis("off")
    axis = figure.add_subplot(grid[1, : len(images) // 2 + 1])
    shown = axis.imshow(mean_gates, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    axis.set_yticks(range(len(names)), names, fontsize=7)
    axis.set_xlabel("example digit")
    axis.set_title("mean transform gate T(x) per layer")
    figure.colorbar(shown, ax=axis)
    axis = figure.add_subplot(grid[1, len(images) // 2 + 2 :])
    per_channel = np.stack([g[0].reshape(-1, g.shape[-1]).mean(axis=0) for g in gates])
    shown = axis.imshow(per_channel, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    axis.set_yticks(range(len(names)), names, fontsize=7)
    axis.set_xlabel("unit / channel")
    axis.set_title("T(x) per unit, first digit")
    figure.colorbar(shown, ax=axis)
    figure.suptitle("highway_mnist: how much each layer transforms (T) vs carries (1 - T)")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def visualize_st_cnn_rts(model, path):
    """Input digits beside what the transformer made of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = zoo.get("st_cnn_rts").example_inputs()["image"]
    transformed, theta = model.get_layer("spatial_transformer")(images)
    predicted = model.predict(images, verbose=0).argmax(-1)
    figure, axes = plt.subplots(2, len(images), figsize=(1.6 * len(images), 4.4))
    for i, image in enumerate(images):
        axes[0, i].imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1, i].imshow(np.asarray(transformed[i])[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1, i].set_title(f"-> {predicted[i]}", fontsize=9)
        for axis in axes[:, i]:
            axis.axis("off")
    axes[0, 0].set_title("input (RTS, 42x42)", fontsize=9, loc="left")
    figure.suptitle("st_cnn_rts: inputs (top) and the spatial transformer's 28x28 output (bottom)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


VISUALIZERS = {"highway_mnist": visualize_highway_mnist, "st_cnn_rts": visualize_st_cnn_rts}


def visualize(name, output=None, weights="pretrained"):
    """Writes the PNG of zoo model `name`; returns its path."""
    entry = zoo.get(name)
    if name not in VISUALIZERS:
        raise ValueError(f"No picture for {name!r}; available: {sorted(VISUALIZERS)}.")
    model = entry.load_pretrained() if weights == "pretrained" else load_weights_file(entry, weights)
    path = Path(output or f"runs/{name}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    VISUALIZERS[name](model, tmp)
    tmp.replace(path)
    return path
