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


def visualize_st_cnn(model, path):
    """Input digits beside what the transformer made of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = zoo.get(model.name).example_inputs()["image"]
    transformed, theta = model.get_layer("spatial_transformer")(images)
    predicted = model.predict(images, verbose=0).argmax(-1)
    figure, axes = plt.subplots(2, len(images), figsize=(1.6 * len(images), 4.4))
    for i, image in enumerate(images):
        axes[0, i].imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1, i].imshow(np.asarray(transformed[i])[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[1, i].set_title(f"-> {predicted[i]}", fontsize=9)
        for axis in axes[:, i]:
            axis.axis("off")
    variant = zoo.get(model.name).task.removeprefix("mnist_").upper()
    size = images.shape[1]
    axes[0, 0].set_title(f"input ({variant}, {size}x{size})", fontsize=9, loc="left")
    figure.suptitle(f"{model.name}: inputs (top) and the spatial transformer's 28x28 output (bottom)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# -- pointer networks --------------------------------------------------------

POINTER_SIZES = {"sort": 10, "hull": 50, "tsp": 10}


def pointer_attention(model, inputs, kind):
    """The decoder's own greedy sequences and the teacher-forced pointer
    distributions along them.

    Returns (targets int [B, T], probabilities [B, T, N(+1)]): `targets`
    in the decoder's order (a hull from its first point, END = N appended,
    -1 after; a tour after city 0), row t of the probabilities the
    distribution of step t given the steps before it.
    """
    import tensorflow as tf

    from zoo import pointer_networks

    name = pointer_networks.INPUT_NAMES[kind]
    decoded, _ = tf.function(pointer_networks.decoding_fn(model, 1))(inputs[name])
    decoded = np.asarray(decoded)
    if kind == "hull":
        n = decoded.shape[1]
        lengths = (decoded >= 0).sum(axis=1)
        targets = np.full((len(decoded), lengths.max() + 1), -1, np.int32)
        for row, (sequence, length) in enumerate(zip(decoded, lengths)):
            targets[row, :length + 1] = list(sequence[:length]) + [n]
    else:
        targets = decoded.astype(np.int32)
    log_probs = model({name: inputs[name], "targets": targets}, training=False)
    return targets, np.exp(np.asarray(log_probs))


def _draw_attention(figure, axis, targets, probabilities, kind):
    """The pointer distribution of one instance: a row per decoding step."""
    steps = int((targets >= 0).sum())
    shown = axis.imshow(probabilities[:steps], vmin=0, vmax=1, cmap="magma", aspect="auto",
                        interpolation="nearest")
    n = probabilities.shape[1] - (kind == "hull")
    names = ["END" if t == n and kind == "hull" else str(t) for t in targets[:steps]]
    offset = 1 if kind == "tsp" else 0  # the tour's step 0 is city 0, given
    axis.set_yticks(range(steps), [f"{t + offset}: {c}" for t, c in enumerate(names)],
                    fontsize=6 if steps > 20 else 7)
    ticks = list(range(0, n, 5 if n > 20 else 1))
    labels = [str(i) for i in ticks]
    if kind == "hull":
        ticks, labels = ticks + [n], labels + ["END"]
    axis.set_xticks(ticks, labels, fontsize=7)
    axis.set_xlabel("element pointed at")
    axis.set_ylabel("step: chosen element")
    axis.set_title("teacher-forced pointer distribution along the greedy sequence, instance 1",
                   fontsize=9)
    figure.colorbar(shown, ax=axis, fraction=0.03)


def _pointer_figure(kind, model, path, draw_instance, draw_order, title):
    """Four held-out test instances (predicted vs true) above the attention
    matrix of the first and its decoding order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from training.tasks.pointer import pipeline as pointer_data

    name = f"pointer_{kind}"
    inputs, labels = pointer_data.held_out(kind, "test", size=POINTER_SIZES[kind], examples=4)
    outputs = {k: np.asarray(v) for k, v in zoo.get(name).serving_fn(model)(**inputs).items()}
    targets, probabilities = pointer_attention(model, inputs, kind)
    elements = inputs[pointer_data.INPUT_NAMES[kind]]
    figure = plt.figure(figsize=(14, 8.5))
    grid = figure.add_gridspec(2, 4, height_ratios=(1, 1.15))
    for i in range(len(elements)):
        axis = figure.add_subplot(grid[0, i])
        draw_instance(axis, elements[i], {k: v[i] for k, v in outputs.items()}, labels[i])
        axis.set_title(axis.get_title() if i else "1: " + axis.get_title(), fontsize=9)
    _draw_attention(figure, figure.add_subplot(grid[1, :3]), targets[0], probabilities[0], kind)
    draw_order(figure.add_subplot(grid[1, 3]), elements[0], targets[0])
    figure.suptitle(f"{name}: {title} (test split, n={POINTER_SIZES[kind]})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _closed(points, ring):
    ring = list(ring)
    return points[ring + ring[:1]]


def _label_order(axis, points, sequence):
    for step, index in enumerate(sequence):
        axis.annotate(str(step), points[index], textcoords="offset points", xytext=(3, 3),
                      fontsize=7, color="tab:red")


def visualize_pointer_hull(model, path):
    """Predicted vs exact hulls of 50 points, and where the decoder points."""
    from training.tasks.pointer import pipeline as pointer_data

    def draw_instance(axis, points, output, label):
        truth, predicted = label[label >= 0], output["hull"][output["hull"] >= 0]
        exact = len(predicted) == len(truth) and np.array_equal(predicted, truth)
        area = pointer_data.signed_area(points, predicted) if len(predicted) >= 3 else 0.0
        coverage = max(area, 0.0) / pointer_data.signed_area(points, truth)
        axis.scatter(points[:, 0], points[:, 1], s=8, c="gray")
        line = _closed(points, truth)
        axis.plot(line[:, 0], line[:, 1], "--", c="tab:green", lw=2.5, alpha=0.6, label="true")
        if len(predicted):
            line = _closed(points, predicted)
            axis.plot(line[:, 0], line[:, 1], "-o", c="tab:red", lw=1, ms=3, label="predicted")
        axis.set_title(f"{'exact' if exact else 'not exact'}: {len(predicted)} vs "
                       f"{len(truth)} vertices, area {coverage:.0%}")
        axis.set_aspect("equal")
        axis.legend(fontsize=7, loc="lower right")

    def draw_order(axis, points, targets):
        sequence = [t for t in targets if 0 <= t < len(points)]
        axis.scatter(points[:, 0], points[:, 1], s=8, c="gray")
        if sequence:
            line = points[sequence]
            axis.plot(line[:, 0], line[:, 1], "-o", c="tab:red", lw=1, ms=3)
        _label_order(axis, points, sequence)
        axis.set_aspect("equal")
        axis.set_title("instance 1: greedy steps (then END)", fontsize=9)

    _pointer_figure("hull", model, path, draw_instance, draw_order,
                    "predicted (red) vs exact (green) convex hulls")


def visualize_pointer_tsp(model, path):
    """Predicted vs optimal tours of 10 cities, and where the decoder points."""
    from training.tasks.pointer import generators as pointer_tasks

    def draw_instance(axis, cities, output, label):
        tour, truth = output["tour"], label[label >= 0]
        length, best = pointer_tasks.tour_length(cities, tour), pointer_tasks.tour_length(cities, truth)
        valid = sorted(tour.tolist()) == list(range(len(cities)))
        line = _closed(cities, truth)
        axis.plot(line[:, 0], line[:, 1], "--", c="tab:green", lw=2.5, alpha=0.6,
                  label=f"reference {best:.3f}")
        line = _closed(cities, tour)
        axis.plot(line[:, 0], line[:, 1], "-", c="tab:red", lw=1, label=f"predicted {length:.3f}")
        axis.scatter(cities[:, 0], cities[:, 1], s=12, c="k", zorder=3)
        axis.scatter(cities[:1, 0], cities[:1, 1], s=40, c="tab:blue", zorder=4)
        optimal = len(cities) <= pointer_tasks.HELD_KARP_MAX
        state = ("invalid" if not valid else "optimal" if length <= best * (1 + 1e-6)
                 else f"{length / best - 1:+.1%}")
        axis.set_title(f"{length:.3f} vs {best:.3f} {'optimal' if optimal else '2-opt'}: {state}")
        axis.set_aspect("equal")
        axis.legend(fontsize=7, loc="lower right")

    def draw_order(axis, cities, targets):
        sequence = [0] + [t for t in targets if t >= 0]
        line = _closed(cities, sequence)
        axis.plot(line[:, 0], line[:, 1], "-", c="tab:red", lw=1)
        axis.scatter(cities[:, 0], cities[:, 1], s=12, c="k", zorder=3)
        _label_order(axis, cities, sequence)
        axis.set_aspect("equal")
        axis.set_title(f"instance 1: greedy tour {pointer_tasks.tour_length(cities, sequence):.3f}, "
                       "steps from city 0", fontsize=9)

    _pointer_figure("tsp", model, path, draw_instance, draw_order,
                    "predicted (beam 4, red) vs optimal (green) tours, city 0 in blue")


def visualize_pointer_sort(model, path):
    """Values in predicted order vs sorted, and where the decoder points."""

    def draw_instance(axis, values, output, label):
        order = output["order"]
        axis.plot(values[label], "--", c="tab:green", lw=2.5, alpha=0.6, label="sorted")
        axis.plot(values[order], "-o", c="tab:red", lw=1, ms=3, label="predicted order")
        exact = np.array_equal(order, label)
        wrong = int((order != label).sum())
        axis.set_title("exact" if exact else f"not exact: {wrong} positions wrong")
        axis.set_xlabel("position")
        axis.legend(fontsize=7, loc="lower right")

    def draw_order(axis, values, targets):
        axis.bar(range(len(values)), values, color="gray")
        for step, index in enumerate(targets):
            axis.annotate(str(step), (index, values[index]), ha="center", va="bottom",
                          fontsize=7, color="tab:red")
        axis.set_xlabel("element")
        axis.set_title("instance 1: values, greedy step of each", fontsize=9)

    _pointer_figure("sort", model, path, draw_instance, draw_order,
                    "values in predicted (red) vs sorted (green) order")


def memn2n_attention_table(model, index=2):
    """(question, answer, predicted, rows): for example `index` of
    `zoo/examples/babi_stories.npz` (2: task 16, basic induction), a row
    per sentence with its support mark and each hop's attention."""
    import tensorflow as tf

    from zoo import memn2n

    with np.load(zoo.registry.EXAMPLES_DIR / "babi_stories.npz") as data:
        story, question = data["story"][index], data["question"][index]
        answer, supporting = str(data["answer"][index]), set(data["supporting"][index].tolist())
    serve = memn2n.serving_fn(model)
    out = serve(story=tf.constant([story]), question=tf.constant([question]))
    attention = out["attention"].numpy()[0]
    rows = [(sentence, i in supporting, attention[:, i]) for i, sentence in enumerate(story)
            if sentence]
    return str(question), answer, out["answer"].numpy()[0].decode(), rows


def visualize_memn2n_babi(model, path):
    """The seed's table: each hop's attention over a story's sentences."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    question, answer, predicted, rows = memn2n_attention_table(model)
    hops = len(rows[0][2])
    lines = [f"{'story':32s} support " + " ".join(f"hop {h + 1:d}" for h in range(hops))]
    lines += [f"{s:32s} {'yes' if sup else '':7s} " + " ".join(f"{a:5.2f}" for a in att)
              for s, sup, att in rows]
    lines.append(f"question: {question}?  answer: {answer}  predicted: {predicted}")
    text = "\n".join(lines) + "\n"
    figure, axis = plt.subplots(figsize=(3 + 1.2 * hops, 0.45 * len(rows) + 1.6))
    shown = axis.imshow(np.stack([a for _, _, a in rows]), vmin=0, vmax=1, cmap="Reds",
                        aspect="auto")
    axis.set_yticks(range(len(rows)),
                    [f"{'* ' if sup else ''}{s}" for s, sup, _ in rows], fontsize=8)
    axis.set_xticks(range(hops), [f"hop {h + 1}" for h in range(hops)])
    for r, (_, _, att) in enumerate(rows):
        for h, a in enumerate(att):
            axis.text(h, r, f"{a:.2f}", ha="center", va="center", fontsize=7)
    figure.colorbar(shown, ax=axis)
    axis.set_title(f"{question}? -> {predicted} (answer: {answer}); * supporting fact",
                   fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return text


def visualize_vqa_shapes(model, path, inputs=None):
    """Each example image (or each of `inputs`: {"image", "question"}), then
    each hop's attention overlaid on it (upsampled from the 6 x 6 grid)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from zoo import vqa_shapes

    inputs = vqa_shapes._examples() if inputs is None else inputs
    out = vqa_shapes.serving_fn(model)(image=tf.constant(inputs["image"]),
                                       question=tf.constant(inputs["question"].astype(str)))
    attention, answers = out["attention"].numpy(), [a.decode() for a in out["answer"].numpy()]
    count, hops = attention.shape[:2]
    figure, axes = plt.subplots(count, hops + 1, figsize=(2.2 * (hops + 1) + 2.6, 2.3 * count),
                                squeeze=False)
    lines = []
    for i in range(count):
        image = inputs["image"][i]
        axes[i, 0].imshow(image)
        axes[i, 0].set_ylabel(f"{inputs['question'][i]}\n-> {answers[i]}", rotation=0,
                              ha="right", va="center", fontsize=8)
        lines.append(f"{inputs['question'][i]} -> {answers[i]}")
        for h in range(hops):
            scale = image.shape[0] // attention.shape[2]
            heat = np.kron(attention[i, h], np.ones((scale, scale)))
            axes[i, h + 1].imshow(image)
            axes[i, h + 1].imshow(heat / max(heat.max(), 1e-9), cmap="magma", alpha=0.6, vmin=0, vmax=1)
            if i == 0:
                axes[i, h + 1].set_title(f"hop {h + 1}")
            row, column = np.unravel_index(attention[i, h].argmax(), attention.shape[2:])
            lines.append(f"  hop {h + 1}: peak {attention[i, h].max():.2f} at grid ({row}, {column})")
        for axis in axes[i]:
            axis.set_xticks([])
            axis.set_yticks([])
    figure.suptitle(f"{model.name}: where each hop looks (6 x 6 feature grid over the image)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return "\n".join(lines) + "\n"


def ntm_weightings(model, bits):
    """Runs the `ntm` layer of a copy model one step at a time on `bits`
    [B, T, 8]; returns (phases [B, 2T+1, 9], read and write weightings
    [B, 2T+1, N] of the first head of each, output [B, T, 8])."""
    phases = keras.ops.convert_to_numpy(model.get_layer("phases")(bits))
    reads, writes = ntm_trace(model.get_layer("ntm").cell, phases)
    output = keras.ops.convert_to_numpy(model(bits, training=False))
    return phases, reads, writes, output


def ntm_trace(cell, phases):
    """Runs NTM `cell` one step at a time over `phases` [B, L, D]; returns
    the read and write weightings [B, L, N] of the first head of each."""
    n, controller = cell.memory_size, cell._num_controller_states
    states = cell.get_initial_state(batch_size=len(phases))
    reads, writes = [], []
    for t in range(phases.shape[1]):
        _, states = cell(phases[:, t], states, training=False)
        reads.append(keras.ops.convert_to_numpy(states[controller + 2])[:, :n])
        writes.append(keras.ops.convert_to_numpy(states[controller + 3])[:, :n])
    return np.stack(reads, 1), np.stack(writes, 1)


def visualize_ntm_copy(model, path):
    """The NTM paper's Fig. 6: inputs and outputs above, the write and read
    weightings over time below (the memory rows that were used)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bits = np.random.default_rng([2014, 6]).integers(0, 2, size=(1, 20, 8)).astype("float32")
    phases, reads, writes, output = ntm_weightings(model, bits)
    length = bits.shape[1]
    used = np.flatnonzero((reads[0].max(0) > 0.05) | (writes[0].max(0) > 0.05))
    rows = slice(max(used.min() - 2, 0), used.max() + 3) if len(used) else slice(None)
    wrong = int(np.sum((output[0] > 0.5) != (bits[0] > 0.5)))
    figure, axes = plt.subplots(2, 2, figsize=(11, 7), gridspec_kw={"height_ratios": [1, 2.5]})
    axes[0, 0].imshow(phases[0].T, cmap="gray_r", aspect="auto", interpolation="nearest")
    axes[0, 0].set_title("inputs: 20 vectors, the delimiter (channel 8), blanks")
    axes[0, 1].imshow(output[0].T, cmap="gray_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    axes[0, 1].set_title(f"outputs during the read-out phase: {wrong} wrong bits")
    for axis, weighting, title in ((axes[1, 0], writes, "write weighting"),
                                   (axes[1, 1], reads, "read weighting")):
        axis.imshow(weighting[0, :, rows].T, cmap="viridis", vmin=0, vmax=1, aspect="auto",
                    interpolation="nearest", extent=(-0.5, weighting.shape[1] - 0.5,
                                                     (rows.stop or weighting.shape[2]) - 0.5,
                                                     (rows.start or 0) - 0.5))
        axis.axvline(length, color="white", lw=0.8, ls="--")
        axis.set_xlabel("time step (dashed: the delimiter)")
        axis.set_ylabel("memory location")
        axis.set_title(title)
    figure.suptitle(f"{model.name}: copying 20 vectors, where the heads write and read")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    top_write = writes[0, :length].argmax(-1)
    top_read = reads[0, length + 1:].argmax(-1)
    return ("step  most-written location (input phase) | most-read location (read-out phase)\n"
            + "".join(f"{t:4d}  {w:28d} | {rd:d}\n" for t, (w, rd) in enumerate(zip(top_write, top_read))))


def visualize_ntm_recall(model, path, count=6, query=2):
    """Associative recall as the NTM paper's Fig. 12: the input sequence and
    the recalled item above, the write and read weightings below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = np.random.default_rng([2014, 12]).integers(0, 2, size=(1, count, 3, 6)).astype("float32")
    queries = np.array([query], np.int32)
    phases = keras.ops.convert_to_numpy(model.get_layer("phases")([items, queries]))
    reads, writes = ntm_trace(model.get_layer("ntm").cell, phases)
    recalled = keras.ops.convert_to_numpy(model({"items": items, "query": queries}, training=False))[0]
    target = items[0, query + 1]
    wrong = int(np.sum((recalled > 0.5) != (target > 0.5)))
    used = np.flatnonzero((reads[0].max(0) > 0.05) | (writes[0].max(0) > 0.05))
    rows = slice(max(used.min() - 2, 0), used.max() + 3) if len(used) else slice(None)
    figure, axes = plt.subplots(2, 2, figsize=(11, 7), gridspec_kw={"height_ratios": [1, 2.5],
                                                                    "width_ratios": [4, 1]})
    axes[0, 0].imshow(phases[0].T, cmap="gray_r", aspect="auto", interpolation="nearest")
    axes[0, 0].set_title(f"inputs: {count} items (channel 6: item delimiter), then item {query} "
                         "between query delimiters (channel 7)")
    axes[0, 1].imshow(np.concatenate([target, recalled]).T, cmap="gray_r", vmin=0, vmax=1,
                      aspect="auto", interpolation="nearest")
    axes[0, 1].set_title(f"item {query + 1} | recalled:\n{wrong} wrong bits")
    axes[1, 1].axis("off")
    axis = axes[1, 0]
    both = np.concatenate([writes[0, :, rows], reads[0, :, rows]], axis=1).T
    axis.imshow(both, cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    axis.axhline(both.shape[0] / 2 - 0.5, color="white", lw=1.0)
    for k in range(count + 1):
        axis.axvline(4 * k - 0.5, color="white", lw=0.5, ls=":")
    axis.set_xlabel("time step (dotted: item boundaries)")
    axis.set_ylabel(f"memory locations {rows.start}..{rows.stop}: write | read")
    axis.set_title("write weighting (top half) and read weighting (bottom half)")
    figure.suptitle(f"{model.name}: recalling the item after item {query}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return (f"item {query + 1}: {target.astype(int).ravel().tolist()}\n"
            f"recalled: {(recalled > 0.5).astype(int).ravel().tolist()} ({wrong} wrong bits)\n"
            "most-written location of each item: "
            + " ".join(str(int(writes[0, 4 * k:4 * k + 4].sum(0).argmax())) for k in range(count)) + "\n"
            "most-read location after the query: " + str(int(reads[0, -3:].sum(0).argmax())) + "\n")


def stack_trace(model, tokens):
    """Runs the `stack_rnn` layer of a language model one step at a time on
    `tokens` [T] (one string); returns (stacks [T, K, D] after each step,
    actions [T, K] (`StackCell`'s order: push, pop, no-op), next-symbol
    probabilities [T, V+1], the value of an empty position)."""
    letters = keras.ops.convert_to_numpy(model.get_layer("letters")(np.asarray([tokens], "int32")))
    cell = model.get_layer("stack_rnn").cell
    k, d = cell.num_stacks, cell.stack_depth
    states = cell.get_initial_state(batch_size=1)
    stacks, actions = [], []
    for t in range(len(tokens)):
        hidden, states = cell(letters[:, t], states, training=False)
        logits = keras.ops.matmul(states[0], cell.action_kernel) + cell.action_bias
        actions.append(np.argmax(keras.ops.convert_to_numpy(logits).reshape(k, 3), -1))
        stacks.append(keras.ops.convert_to_numpy(states[1]).reshape(k, d, -1)[..., 0])
    probabilities = keras.ops.convert_to_numpy(model(np.asarray([tokens], "int32"), training=False))[0]
    return np.stack(stacks), np.stack(actions), probabilities, cell.empty_value


def visualize_stack_rnn_anbn(model, path, n=12):
    """The top of each stack and its action after every letter of a^n b^n,
    with the predicted next symbol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text = "a" * n + "b" * n
    stacks, actions, probabilities, empty = stack_trace(model, [1] * n + [2] * n)
    used = np.flatnonzero((actions != 2).any(0))  # stacks that ever push or pop
    predicted = ["ab$"[i] for i in probabilities.argmax(-1)]
    depth = 2 * n + 2
    figure, axes = plt.subplots(1, len(used), figsize=(2.2 * len(used) + 1, 6), squeeze=False)
    for axis, stack in zip(axes[0], used):
        axis.imshow(stacks[:, stack, :depth].T, cmap="coolwarm", vmin=-1, vmax=1, aspect="auto",
                    interpolation="nearest")
        axis.set_xticks(range(len(text)), [f"{c}\n{'+-.'[a]}" for c, a in zip(text, actions[:, stack])],
                        fontsize=6)
        axis.set_ylabel("stack position (0: top)")
        axis.set_title(f"stack {stack}", fontsize=9)
    figure.suptitle(f"{model.name} on {text}: stack contents after each letter (-1: empty); "
                    "actions + push, - pop, . no-op\npredicted next symbols: " + "".join(predicted))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    names = ("push", "pop", "no-op")
    lines = ["letter  next ($: end)  " + "  ".join(f"stack {s}: action height" for s in used)]
    for t, c in enumerate(text):
        lines.append(f"{c:6s}  {predicted[t]:12s}  " + "  ".join(
            f"{names[actions[t, s]]:>15s} {int(np.sum(stacks[t, s] != empty)):6d}" for s in used))
    return "\n".join(lines) + "\n"


def filter_responses(kernel, sample_rate=8000, fft_length=512):
    """Magnitude responses of FIR filters `kernel` [taps, filters] (a time
    convolution's kernel), sorted by centre frequency (the frequency of the
    largest response). Returns (frequencies [bins] in Hz, responses [filters,
    bins] in dB below each filter's peak, centre frequencies [filters] in Hz,
    order [filters]: the kernel's filter at each sorted row)."""
    kernel = np.asarray(kernel, np.float64).reshape(np.shape(kernel)[0], -1)
    magnitude = np.abs(np.fft.rfft(kernel, n=max(fft_length, len(kernel)), axis=0)).T
    frequencies = np.fft.rfftfreq(magnitude.shape[1] * 2 - 2, 1.0 / sample_rate)
    centres = frequencies[magnitude.argmax(axis=1)]
    order = np.argsort(centres, kind="stable")
    decibels = 20 * np.log10(magnitude / np.maximum(magnitude.max(axis=1, keepdims=True), 1e-30) + 1e-12)
    return frequencies, decibels[order], centres[order], order


def visualize_cldnn_fsdd(model, path):
    """The paper's Fig. 3: the learned time-convolution filters' magnitude
    responses, sorted by centre frequency, beside the centres of a mel
    filterbank of as many filters."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo import cldnn

    layer = model.get_layer("tconv")
    kernel = layer.filterbank(effective=True)  # what the waveform meets, pre-emphasis included
    frequencies, decibels, centres, order = filter_responses(kernel, cldnn.SAMPLE_RATE)
    count = len(centres)
    mel = lambda hz: 1127.0 * np.log1p(np.asarray(hz) / 700.0)  # noqa: E731  (tf.signal's mel scale)
    edges = np.linspace(mel(20.0), mel(cldnn.SAMPLE_RATE / 2), count + 2)
    mel_centres = 700.0 * np.expm1(edges[1:-1] / 1127.0)
    initial = None
    if isinstance(layer.kernel_initializer, cldnn.Gammatone):  # where training started
        start = keras.ops.convert_to_numpy(layer.kernel_initializer(layer.kernel.shape))[:, 0, :]
        _, _, start_sorted, start_order = filter_responses(start, cldnn.SAMPLE_RATE)
        initial = np.empty_like(start_sorted)
        initial[start_order] = start_sorted  # each filter's initial centre
        initial = initial[order]  # in the rows of the learned ones
    figure, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.6, 1]})
    shown = axes[0].imshow(decibels, aspect="auto", origin="lower", cmap="viridis", vmin=-30, vmax=0,
                           extent=(0, frequencies[-1], -0.5, count - 0.5), interpolation="nearest")
    axes[0].set_xlabel("frequency (Hz)")
    axes[0].set_ylabel("filter, sorted by centre frequency")
    axes[0].set_title(f"magnitude response of the {count} learned {len(kernel)}-tap filters (dB re peak)",
                      fontsize=10)
    figure.colorbar(shown, ax=axes[0])
    axes[1].plot(centres, np.arange(count), "o-", ms=3, label="learned (peak of the response)")
    axes[1].plot(mel_centres, np.arange(count), "--", c="tab:gray", label=f"mel filterbank of {count}")
    if initial is not None:
        axes[1].plot(initial, np.arange(count), "x", ms=4, c="tab:red", label="each filter's initial centre")
    axes[1].set_xlim(0, frequencies[-1])
    axes[1].set_xlabel("centre frequency (Hz)")
    axes[1].set_ylabel("filter, sorted")
    axes[1].set_title("centre frequencies", fontsize=10)
    axes[1].legend(fontsize=8, loc="lower right")
    start = "random" if initial is None else "gammatone (x: each filter's start)"
    figure.suptitle(f"{model.name}: the time convolution's learned filters, sorted by centre frequency "
                    f"({cldnn.SAMPLE_RATE} Hz waveform, {len(kernel)} taps; initialisation: {start})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    widths = (decibels >= -3.0).sum(axis=1) * (frequencies[1] - frequencies[0])
    initial = np.full(count, np.nan) if initial is None else initial
    return ("sorted  filter  centre (Hz)  bins within 3 dB of the peak (Hz)  mel centre (Hz)  initial centre (Hz)\n"
            + "".join(f"{row:6d}  {int(k):6d}  {c:11.0f}  {w:33.0f}  {m:15.0f}  {i:18.0f}\n"
                      for row, (k, c, w, m, i) in enumerate(zip(order, centres, widths, mel_centres, initial))))


def visualize_conv_autoencoder_mnist(model, path, steps=9):
    """The example digits, their reconstructions with the encoder's pooling
    switches (served) and from the code alone; below, a grid of codes
    interpolated between four digits' codes, decoded from the code alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo import conv_autoencoder

    with np.load(zoo.registry.EXAMPLES_DIR / "mnist_digits.npz") as data:
        images, labels = data["image"].astype(np.float32), data["label"]
    decodings, codes = (np.asarray(t) for t in conv_autoencoder.encoder_and_decodings(model)(images))
    errors = np.square(decodings - images).mean(axis=(1, 2))  # [digits, 2]
    # Four corners: the first example of four different digits (fewer if the examples lack them).
    corners = [int(np.flatnonzero(labels == d)[0]) for d in dict.fromkeys(labels.tolist())][:4]
    corners += [corners[-1]] * (4 - len(corners))
    a, b = np.linspace(0, 1, steps)[:, None, None], np.linspace(0, 1, steps)[None, :, None]
    c = codes[corners]
    grid_codes = ((1 - a) * (1 - b) * c[0] + (1 - a) * b * c[1] + a * (1 - b) * c[2] + a * b * c[3])
    decoded = np.asarray(conv_autoencoder.code_decoder(model)(grid_codes.reshape(steps * steps, -1)))
    mosaic = decoded[..., 0].reshape(steps, steps, 28, 28).transpose(0, 2, 1, 3).reshape(steps * 28, -1)

    columns = len(images)
    figure = plt.figure(figsize=(1.5 * columns, 4.6 + 1.5 * columns * 0.62))
    grid = figure.add_gridspec(4, columns, height_ratios=(1, 1, 1, 0.62 * columns))
    rows = (("original", images), ("with switches", decodings[..., :1]), ("code alone", decodings[..., 1:]))
    for row, (title, pictures) in enumerate(rows):
        for i in range(columns):
            axis = figure.add_subplot(grid[row, i])
            axis.imshow(pictures[i, ..., 0], cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if row:
                axis.set_title(f"MSE {errors[i, row - 1]:.4f}", fontsize=8)
            if i == 0:
                axis.set_ylabel(title, fontsize=9)
    axis = figure.add_subplot(grid[3, :])
    axis.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
    axis.axis("off")
    names = ", ".join(str(labels[k]) for k in corners)
    axis.set_title(f"codes interpolated between those of digits {names} (corners), decoded from the "
                   "code alone", fontsize=9)
    filters = (model.get_layer("conv_1").filters, model.get_layer("conv_2").filters)
    switches = (f"the switches add {conv_autoencoder.switch_bits(filters):,} bits an image"
                if conv_autoencoder.uses_switches(model) else "no switches")
    figure.suptitle(f"conv_autoencoder_mnist: a code of {codes.shape[1]} numbers; {switches}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _grid_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def grid_lstm_gate_trace(model, bits):
    """Runs the `grid_lstm` layer (a `GridLSTM1D`) of a parity model block
    by block, in NumPy, on `bits` [B, K].

    Args:
        model: a `grid_lstm_parity` model (layers `grid_lstm` and
            `probability_odd`).
        bits: float32 [B, K] in {0, 1}.

    Returns:
        A dict of arrays [depth, B, units]: `input`, `forget` and `output`
        gates, `memory` and `hidden` of each block, bottom first; `odd`
        [depth, B]: the probability of odd parity that the model's output
        layer reads from each block's hidden vector (the last is the
        model's own answer).
    """
    layer = next((l for l in model.layers if l.name == "grid_lstm"), None)
    if getattr(layer, "grid_dimensions", None) != 1 or not layer.project_input:
        raise ValueError(f"`model` must have a `grid_lstm` layer, a GridLSTM1D that projects its input; "
                         f"{model.name} has {type(layer).__name__ if layer else 'none'}.")
    features = keras.Model(model.inputs, layer.input)([np.asarray(bits, np.float32)])
    hidden = np.asarray(features, np.float64) @ np.asarray(layer.input_kernel, np.float64)
    memory = np.zeros_like(hidden)
    head = model.get_layer("probability_odd")
    w_out, b_out = (np.asarray(v, np.float64) for v in head.get_weights())
    trace = {key: [] for key in ("input", "forget", "output", "memory", "hidden", "odd")}
    for d in range(layer.depth):
        block = layer.blocks[0 if layer.tied else d]
        z = hidden @ np.asarray(block.kernels[0], np.float64) + np.asarray(block.biases[0], np.float64)
        i, f, c, o = np.split(z, 4, axis=-1)
        i, f, o = _grid_sigmoid(i), _grid_sigmoid(f), _grid_sigmoid(o)
        memory = f * memory + i * np.tanh(c)
        hidden = np.tanh(o * memory)
        for key, value in (("input", i), ("forget", f), ("output", o), ("memory", memory), ("hidden", hidden)):
            trace[key].append(value)
        trace["odd"].append(_grid_sigmoid(hidden @ w_out + b_out)[:, 0])
    return {key: np.stack(values) for key, values in trace.items()}


def visualize_grid_lstm_parity(model, path, example=0):
    """One held-out test string: the input, forget and output gates of every
    unit at every depth (a block that keeps its memory has forget ~1 and
    input ~0: it carries; one that writes has input ~1: it computes), and
    the probability of odd parity read from each depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from training.tasks import parity

    bits = model.inputs[0].shape[1]
    inputs, labels = parity.held_out("test", bits=bits, examples=example + 1)
    string, label = inputs["bits"][example:example + 1], int(labels[example])
    trace = grid_lstm_gate_trace(model, string)
    depth = trace["odd"].shape[0]
    figure, axes = plt.subplots(2, 3, figsize=(14, 8), gridspec_kw={"height_ratios": [3, 2]})
    for axis, gate in zip(axes[0], ("input", "forget", "output")):
        shown = axis.imshow(trace[gate][:, 0].T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1,
                            extent=(0.5, depth + 0.5, -0.5, trace[gate].shape[2] - 0.5), interpolation="nearest")
        axis.set_title(f"{gate} gate", fontsize=10)
        axis.set_xlabel("depth (block)")
        axis.set_ylabel("unit")
        figure.colorbar(shown, ax=axis)
    steps = np.arange(1, depth + 1)
    for gate in ("input", "forget", "output"):
        axes[1, 0].plot(steps, trace[gate][:, 0].mean(axis=1), "o-", ms=3, label=f"mean {gate} gate")
    axes[1, 0].set_ylim(0, 1)
    axes[1, 0].set_xlabel("depth (block)")
    axes[1, 0].legend(fontsize=8)
    change = np.abs(np.diff(np.concatenate([np.zeros_like(trace["memory"][:1]), trace["memory"]]), axis=0))
    axes[1, 1].plot(steps, change[:, 0].mean(axis=1), "o-", ms=3, c="tab:purple")
    axes[1, 1].set_xlabel("depth (block)")
    axes[1, 1].set_title("mean |change of memory| at each block", fontsize=10)
    axes[1, 2].plot(steps, trace["odd"][:, 0], "o-", ms=3, c="tab:red")
    axes[1, 2].axhline(label, ls="--", c="tab:gray")
    axes[1, 2].set_ylim(-0.05, 1.05)
    axes[1, 2].set_xlabel("depth (block)")
    axes[1, 2].set_title(f"P(odd) read from each block (truth: {'odd' if label else 'even'})", fontsize=10)
    ones = int(string.sum())
    figure.suptitle(f"{model.name}: one tied Grid LSTM block applied {depth} times to a held-out test string "
                    f"of K = {bits} bits ({ones} ones)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    lines = [f"string: {''.join(str(int(b)) for b in string[0])} ({ones} ones, {'odd' if label else 'even'})",
             "depth  input  forget  output  |change of memory|  P(odd)"]
    lines += [f"{d + 1:5d}  {trace['input'][d, 0].mean():5.3f}  {trace['forget'][d, 0].mean():6.3f}  "
              f"{trace['output'][d, 0].mean():6.3f}  {change[d, 0].mean():18.4f}  {trace['odd'][d, 0]:6.3f}"
              for d in range(depth)]
    return "\n".join(lines) + "\n"


def visualize_translation(model, path):
    """The decoder's attention (rows: French words, columns: English words)
    for the zoo entry's example sentences."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo import convs2s

    rows = convs2s.translate_with_attention(model, [str(s) for s in convs2s.examples()["english"]])
    figure, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 4.6))
    lines = []
    for axis, (english, french, attention) in zip(np.atleast_1d(axes), rows):
        axis.imshow(attention, vmin=0, vmax=1, cmap="Greys", aspect="auto")
        axis.set_xticks(range(len(english)), english, rotation=60, fontsize=8)
        axis.set_yticks(range(len(french)), french, fontsize=8)
        lines.append(" ".join(english) + " -> " + " ".join(french))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return "\n".join(lines) + "\n"


VISUALIZERS = {
    "highway_mnist": visualize_highway_mnist,
    **{name: visualize_st_cnn for name in ("st_cnn_rts", "st_cnn_r", "st_cnn_p", "st_cnn_e", "st_cnn_tc",
                                           "st_cnn_e_tps")},
    "pointer_sort": visualize_pointer_sort,
    "pointer_hull": visualize_pointer_hull,
    "pointer_tsp": visualize_pointer_tsp,
    "memn2n_babi": visualize_memn2n_babi,
    "memn2n_babi_10k": visualize_memn2n_babi,
    "vqa_shapes": visualize_vqa_shapes,
    "vqa_shapes_1hop": visualize_vqa_shapes,
    "ntm_copy": visualize_ntm_copy,
    "ntm_recall": visualize_ntm_recall,
    "stack_rnn_anbn": visualize_stack_rnn_anbn,
    "conv_autoencoder_mnist": visualize_conv_autoencoder_mnist,
    "cldnn_fsdd": visualize_cldnn_fsdd,
    "grid_lstm_parity": visualize_grid_lstm_parity,
    "convs2s_fra": visualize_translation,
    "gru_attention_fra": visualize_translation,
}


def visualize(name, output=None, weights="pretrained"):
    """Writes the PNG of zoo model `name` (and a .txt beside where the
    picture is a table); returns its path."""
    entry = zoo.get(name)
    if name not in VISUALIZERS:
        raise ValueError(f"No picture for {name!r}; available: {sorted(VISUALIZERS)}.")
    model = entry.load_pretrained() if weights == "pretrained" else load_weights_file(entry, weights)
    path = Path(output or f"runs/{name}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    text = VISUALIZERS[name](model, tmp)
    tmp.replace(path)
    if text:  # the same as a text table, beside
        tmp = path.with_name(f".tmp-{path.stem}.txt")
        tmp.write_text(text)
        tmp.replace(path.with_suffix(".txt"))
        print(text, end="")
    return path
