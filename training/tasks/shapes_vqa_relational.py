"""The relational shapes-VQA questions (issue 30): accuracy per kind of
question and where each hop looks, for a zoo model or a run's weights, on a
split of the relational task drawn with a seed no run trained on.

    python -m training.tasks.shapes_vqa_relational evaluate vqa_shapes [--weights W --model-config JSON] --data-seed 1
    python -m training.tasks.shapes_vqa_relational attention vqa_shapes [...]
"""

import numpy as np

from training import train
from training.tasks.shapes_vqa import GRID, KINDS, RELATIONAL, SPLITS, example, held_out, named_cells, score


def load_model(name, weights="pretrained", model_config=None):
    """Zoo model `name` with its pretrained weights, or a `.weights.h5` file's
    (built with `model_config`, the builder's arguments, if given)."""
    from zoo import registry

    entry = registry.get(name)
    if weights == "pretrained":
        return entry, entry.load_pretrained()
    if model_config is None:
        return entry, train.load_weights_file(entry, weights)
    model = entry.builder(**model_config)
    model.load_weights(weights)
    return entry, model


def evaluate(name, weights="pretrained", split="test", data_seed=1, model_config=None,
             cache_dir="runs/tfds"):
    """`score` of a model's serving outputs on `split` of the relational
    task drawn with `data_seed`."""

    entry, model = load_model(name, weights, model_config)
    inputs, labels = held_out(split, cache_dir=cache_dir, relational=True, data_seed=data_seed)
    outputs = train.serve_locally(entry, model, inputs)
    return {"split": split, "data_seed": data_seed, "examples": len(labels), **score(outputs, inputs, labels)}


def attention_on_cells(name, weights="pretrained", split="test", data_seed=1, count=1000, model_config=None):
    """For the relational questions among the first `count` of `split`
    (drawn with `data_seed`): how often each hop's strongest grid location
    lies in the named object's cell ("on_anchor") and in the cell next to
    it, the answer's ("on_answer"), per kind and over all."""

    entry, model = load_model(name, weights, model_config)
    drawn = [example(data_seed, split, i, relational=True, scene=True) for i in range(count)]
    drawn = [d for d in drawn if KINDS[d[3]] in RELATIONAL]
    inputs = {"image": np.stack([d[0] for d in drawn]).astype(np.float32) / 255.0,
              "question": np.array([d[1] for d in drawn], object)}
    attention = train.serve_locally(entry, model, inputs)["attention"]
    side = attention.shape[-1]
    peaks = attention.reshape(len(drawn), attention.shape[1], -1).argmax(-1)
    cells = np.stack([peaks // side, peaks % side], -1) // (side // GRID)  # [N, hops, 2]
    named = np.array([[c if c is not None else (-1, -1) for c in named_cells(d[4], d[1])] for d in drawn])
    kinds = np.array([KINDS[d[3]] for d in drawn])
    report = {"questions": len(drawn)}
    for group in ("all",) + RELATIONAL:
        chosen = kinds == group if group != "all" else np.ones(len(drawn), bool)
        report[group] = {
            f"hop_{h + 1}": {where: round(float(np.all(cells[chosen, h] == named[chosen, w], -1).mean()), 3)
                             for w, where in enumerate(("on_anchor", "on_answer"))}
            for h in range(attention.shape[1])}
    return report


def main(argv=None):
    import argparse
    import json

    parser = argparse.ArgumentParser(description="`evaluate NAME`: accuracy per kind on relational data; "
                                     "`attention NAME`: where each hop looks on relational questions.")
    parser.add_argument("command", choices=["evaluate", "attention"])
    parser.add_argument("name", nargs="?", default="vqa_shapes")
    parser.add_argument("--weights", default="pretrained")
    parser.add_argument("--split", default="test", choices=list(SPLITS))
    parser.add_argument("--data-seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=1000, help="attention: questions drawn")
    parser.add_argument("--model-config", type=json.loads, help="JSON: the builder's arguments for --weights")
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        print(json.dumps(evaluate(args.name, args.weights, args.split, args.data_seed, args.model_config),
                         indent=2))
    else:
        print(json.dumps(attention_on_cells(args.name, args.weights, args.split, args.data_seed, args.count,
                                            args.model_config), indent=2))


if __name__ == "__main__":
    main()
