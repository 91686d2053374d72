"""The main job: export every pretrained zoo model, serve, query, report."""

import json
import os
import subprocess
import sys
import time

import httpx

import zoo
from exports import export, verify


def start_server(base, timeout=180):
    """Starts `specialnets serve --port 0` in a subprocess; returns (process, url)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "specialnets", "serve", "--base", str(base), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()  # "Serving ... at http://HOST:PORT"
    if "http://" not in line:
        process.kill()
        raise RuntimeError(f"The server did not start: {line!r}")
    url = line.strip().rsplit(" ", 1)[-1]
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/v1/models/none", timeout=5)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"The server at {url} did not answer within {timeout} s.")


def query(url, name, body, repeats=5):
    """Posts `body` `repeats` times; returns (answer, median latency in ms)."""
    timings = []
    with httpx.Client(timeout=60) as client:
        for _ in range(repeats + 1):
            start = time.perf_counter()
            response = client.post(f"{url}/v1/models/{name}:predict", json=body)
            timings.append((time.perf_counter() - start) * 1000)
    answer = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"{name}: the server answered {response.status_code}: {answer}")
    return answer, sorted(timings[1:])[len(timings[1:]) // 2]


def card_metric(card):
    metrics = card.get("metrics", {})
    held_out = metrics.get("held_out")
    if held_out:  # generated tasks: scored on the serving outputs
        size = f", n={held_out['size']}" if "size" in held_out else ""
        where = f"({held_out['split']}, {held_out['examples']}{size})"
        if "mean_tour_length" in held_out:
            return (f"tour {held_out['mean_tour_length']:.3f} vs "
                    f"{held_out['mean_reference_length']:.3f} {where}")
        if "fraction_solved" in held_out:  # the counting languages: each n right or not
            return (f"{held_out['fraction_solved']:.0%} of n right, all to n={held_out['solved_up_to']} "
                    f"{where}")
        if "bits_per_sequence" in held_out:
            return (f"{held_out['bits_per_sequence']:.3f} wrong bits/sequence at "
                    f"T={held_out['length']} {where}")
        if "bits_per_sample" in held_out:  # waveform models: negative log-likelihood of each sample
            return f"{held_out['bits_per_sample']:.3f} bits per sample {where}"
        if "perplexity" in held_out:  # language models: each line from a fresh state
            return f"perplexity {held_out['perplexity']:.1f} per line {where}"
        if "ratio_to_pca" in held_out:  # autoencoders against PCA with as many components
            return f"MSE {held_out['mse']:.4f}, {held_out['ratio_to_pca']:.2f}x PCA's {where}"
        if "bleu" in held_out:  # translation: corpus BLEU of the served answers
            return f"BLEU {held_out['bleu']:.1f} {where}"
        if "mean_task_error" in held_out:
            return (f"{held_out['mean_task_error']:.1%} mean error over "
                    f"{len(held_out['task_errors'])} tasks, {held_out['failed_tasks']} failed {where}")
        for key, label in (("exact", "exact"), ("exact_name_accuracy", "names copied exactly"),
                           ("accuracy", "answers right")):
            if key in held_out:
                return f"{held_out[key]:.1%} {label} {where}"
        return f"{held_out['error']:.2%} error {where}"
    for split, values in metrics.items():
        if "error" in values:
            return f"{values['error']:.2%} error ({split}, {values.get('examples', '?')})"
    return "n/a"


def main(base="runs/exports", models=None, reuse=True):
    """Exports (or reuses an identical verified export of) each model, serves
    them all, queries each and prints the table."""
    names = models or zoo.names()
    paths = {}
    for name in names:
        paths[name] = export.matching_export(name, base=base) if reuse else None
        if paths[name] is not None:
            print(f"reused {paths[name]} (same weights, code and libraries; verified)", flush=True)
    fresh = [name for name in names if paths[name] is None]
    if fresh:
        print(f"exporting {len(fresh)} models, then verifying them in one fresh process...", flush=True)
    verify_all = lambda staged: verify.run_isolated_many([(p, n, None) for p, n in staged])  # noqa: E731
    for name, path in zip(fresh, export.export_many(fresh, base=base, check_many=verify_all)):
        paths[name] = path
        print(f"exported and verified {path}", flush=True)
    rows = [(name, paths[name]) for name in names]
    process, url = start_server(base)
    try:
        table = []
        for name, path in rows:
            entry = zoo.get(name)
            card = json.loads((path / "assets.extra" / "model_card.json").read_text())
            body = export.example_request(entry, rows=2)
            answer, latency = query(url, name, body)
            first = answer["predictions"][0]
            if isinstance(first, dict):  # several outputs; one comes bare
                first = {k: v for k, v in first.items() if not isinstance(v, list)} or first
            shown = json.dumps(first)  # a long answer (a copy, a tour) cut to fit a table cell
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            table.append((name, path.name, card_metric(card), entry.paper_result, shown,
                          f"{latency:.1f}"))
    finally:
        process.terminate()
        process.wait(timeout=30)
    header = ("model", "version", "held-out metric (model card)", "paper",
              "REST answer (1st instance)", "latency ms (2 instances)")
    widths = [max(len(str(r[i])) for r in table + [header]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths)] + table:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print(f"\nServer at {url} stopped. Serve the exports yourself: specialnets serve --base {base}")
