"""The `specialnets` command: list, train, pick, evaluate, export, serve,
predict, generate, visualize, demo."""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class UsageError(Exception):
    """A bad argument or input: printed as one line, exit status 2."""


def _zoo_name(name):
    import zoo

    try:
        zoo.get(name)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return name


def cmd_list(args):
    import zoo
    from exports.demo import card_metric

    for name in zoo.names():
        entry = zoo.get(name)
        info = entry.weights_info()
        figure = card_metric(info) if info else "no weights"
        print(f"{name:20s} task={entry.task:12s} {figure:40s} {entry.summary}")


def _overrides(pairs, flag="--set"):
    """{"key": value} of `--set key=value` (values as JSON, else strings)."""
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"`{flag}` takes KEY=VALUE (e.g. encoder=lstm); received {pair!r}.")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def cmd_train(args):
    from training import distribute

    name = _zoo_name(args.name)  # before the strategy, which waits for every worker
    distribute.strategy(args.distribute)  # before TensorFlow runs any op (multi-worker needs it)
    from training import train

    info = train.train(
        name,
        preset=args.preset,
        data_dir=args.data_dir,
        run_dir=args.run_dir,
        seed=args.seed,
        epochs=args.epochs,
        cache_dir=args.cache_dir,
        verbose=args.verbose,
        model_overrides=_overrides(args.set),
        init_weights=args.init_weights,
        training_overrides=_overrides(args.train_set, "--train-set"),
        task_overrides=_overrides(args.task_set, "--task-set"),
        held_out_every=args.held_out_every,
        distribute=args.distribute,
    )
    print(json.dumps(info["metrics"], indent=2))
    if args.publish:
        info = train.publish(args.name, args.run_dir or f"runs/{args.name}-{args.preset}")
        print(f"Published weights with sha256 {info['sha256']}: set it as "
              f"`weights_sha256` of {args.name} in zoo/.")


def cmd_pick(args):
    from training import restarts

    rows = restarts.pick(_zoo_name(args.name), args.run_dirs, args.data_dir, args.cache_dir,
                         publish=args.publish)
    print(restarts.format_rows(rows))
    print(f"Lowest training error: {rows[0]['run']}")
    if args.publish:
        print(f"Published its weights with sha256 {rows[0]['sha256']}: set it as "
              f"`weights_sha256` of {args.name} in zoo/.")


DISTORTED_MNIST_TASKS = {"mnist_rts", "mnist_r", "mnist_p", "mnist_e", "mnist_tc"}


def cmd_evaluate(args):
    import zoo

    name = _zoo_name(args.name)
    if args.split == "beyond_1k" and zoo.get(name).task != "babi":
        raise UsageError(f"--split beyond_1k (the 10k bAbI files' stories after the 1k files') "
                         f"scores the models trained on the 1k bAbI files; {name} is not one.")
    if args.split in ("validation_a", "validation_b") and zoo.get(name).task not in DISTORTED_MNIST_TASKS:
        raise UsageError(f"--split {args.split} (half of the validation digits) is a split of the "
                         f"distorted-MNIST models' tasks {sorted(DISTORTED_MNIST_TASKS)}; {name} is not one.")
    options = {"size": args.size} if args.size else {}
    if args.data_seed is not None:
        options["data_seed"] = args.data_seed
    for option, tasks in (("examples", ("addition", "memorization")), ("digits", ("addition",))):
        if getattr(args, option) is not None:
            if zoo.get(name).task not in tasks:
                raise UsageError(f"--{option} is an option of the held-out sets of the "
                                 f"{' and '.join(tasks)} models; {name} does not take it.")
            options[option] = getattr(args, option)
    if args.export:
        from exports import verify

        result = verify.evaluate_export(args.export, name, args.data_dir, args.split, **options)
    else:
        from training import train

        result = train.evaluate(name, args.weights, args.data_dir, args.split, args.cache_dir,
                                **options)
    print(json.dumps(result, indent=2))


def cmd_export(args):
    from exports import export, verify

    check = verify.run_isolated if args.verify else None
    print(export.export(_zoo_name(args.name), weights=args.weights, base=args.base, check=check))


def cmd_serve(args):
    from exports import server

    grpc_port = args.grpc_port
    if grpc_port is None:
        grpc_port = 0 if args.port == 0 else 8500
    try:
        server.serve(args.base, args.host, args.port, args.max_request_bytes,
                     grpc_port=None if grpc_port < 0 else grpc_port)
    except OSError as error:
        raise UsageError(str(error)) from None


def _load_request(path, input_names):
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--input {path}: no such file.")
    if path.suffix == ".json":
        from exports import rest

        try:
            return rest.parse_body(path.read_bytes())
        except rest.BadRequest as error:
            raise UsageError(f"--input {path}: {error}") from None
    if path.suffix in (".npz", ".npy"):
        import numpy as np

        data = np.load(path)
        if path.suffix == ".npy":
            return {"inputs": data.tolist()}
        missing = [n for n in input_names if n not in data.files]
        if missing:
            raise UsageError(f"--input {path}: no array named {missing} (has {data.files}).")
        return {"inputs": {n: data[n].tolist() for n in input_names}}  # others ignored
    raise UsageError(f"--input {path}: expected a .json request body, an .npz or an .npy.")


def cmd_predict(args):
    import zoo

    name = _zoo_name(args.name)
    body = _load_request(args.input, [i.name for i in zoo.get(name).inputs])
    if args.server and args.server.startswith("grpc://"):
        import grpc

        from exports import grpc_server, rest

        if args.version and not args.version.isdigit():
            raise UsageError(f"--version {args.version}: gRPC takes a version number.")
        try:
            answer = grpc_server.predict(args.server[len("grpc://"):].rstrip("/"), args.name,
                                         body, args.version)
        except rest.BadRequest as error:
            raise UsageError(f"--input {args.input}: {error}") from None
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise UsageError(f"--server {args.server}: {error.details()}") from None
            answer = {"error": f"{error.code().name}: {error.details()}"}
    elif args.server:
        import httpx

        version = f"/versions/{args.version}" if args.version else ""
        url = f"{args.server.rstrip('/')}/v1/models/{args.name}{version}:predict"
        try:
            response = httpx.post(url, json=body, timeout=120)
        except httpx.HTTPError as error:
            raise UsageError(f"--server {args.server}: {error}") from None
        answer = response.json()
    else:
        from exports import rest, server

        store = server.ModelStore(args.base)
        try:
            answer = store.get(args.name, args.version).predict(body)
        except (server.NotFound, rest.BadRequest) as error:
            raise UsageError(str(error)) from None
    from exports import rest

    print(rest.dumps(answer).decode())
    if "error" in answer:
        sys.exit(1)


def write_wav(path, waveform, sample_rate):
    """Writes float samples in [-1, 1] as a mono 16-bit PCM WAV, atomically: a
    temporary file beside `path`, renamed over it once complete."""
    import tempfile
    import wave

    import numpy as np

    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"--out {path}: the directory {path.parent} does not exist.")
    pcm = np.round(np.clip(waveform, -1.0, 1.0) * 32767.0).astype("<i2")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            with wave.open(f, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(sample_rate)
                w.writeframes(pcm.tobytes())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a WAV is for anyone to play
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cmd_generate(args):
    import importlib

    import zoo

    entry = zoo.get(_zoo_name(args.name))
    if "generate" not in entry.extra_signatures:
        generative = [n for n in zoo.names() if "generate" in zoo.get(n).extra_signatures]
        raise UsageError(f"{args.name} does not generate (no `generate` signature); generative models: "
                         f"{generative}.")
    if not 0 <= args.digit <= 9:
        raise UsageError(f"--digit must be in 0..9; received {args.digit}.")
    if args.seconds <= 0:
        raise UsageError(f"--seconds must be > 0; received {args.seconds}.")
    module = importlib.import_module(entry.builder.__module__)
    num_samples = int(round(args.seconds * module.SAMPLE_RATE))
    if args.weights == "pretrained":
        model = entry.load_pretrained()
    else:
        from training import train

        model = train.load_weights_file(entry, args.weights)
    waveform = module.generate_waveform(model, [args.digit], num_samples, seed=(args.seed, 0),
                                        jit_compile=args.xla)[0]
    print(write_wav(args.out, waveform, module.SAMPLE_RATE))


def cmd_visualize(args):
    from training import visualize

    print(visualize.visualize(_zoo_name(args.name), args.output, args.weights))


def cmd_demo(args):
    from exports import demo

    demo.main(args.base, args.models, reuse=args.reuse)


def parser():
    top = argparse.ArgumentParser(prog="specialnets", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the zoo models").set_defaults(func=cmd_list)

    p = sub.add_parser("train", help="train a zoo model (resumes an interrupted run)")
    p.add_argument("name")
    p.add_argument("--preset", default="paper", choices=["smoke", "quick", "paper"])
    p.add_argument("--data-dir", help="data directory (default: $SPECIALNETS_DATA)")
    p.add_argument("--run-dir", help="default: runs/NAME-PRESET")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="override the preset's epochs")
    p.add_argument("--cache-dir", default="runs/tfds", help="prepared tensorflow-datasets")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="1: progress bar")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change a builder argument of the preset, e.g. --set encoder=lstm "
                        "(a variant: not publishable)")
    p.add_argument("--train-set", action="append", metavar="KEY=VALUE",
                   help="change a training field of the preset, e.g. --train-set optimizer=sgd "
                        "--train-set halve_every=15 (a variant: not publishable)")
    p.add_argument("--task-set", action="append", metavar="KEY=VALUE",
                   help="change an option of the preset's task data, e.g. --task-set tasks=[19] "
                        "(bAbI: train on task 19 alone; a variant: not publishable)")
    p.add_argument("--init-weights", metavar="PATH",
                   help="start from this .weights.h5 of the same model (fresh optimizer, no "
                        "linear start), e.g. a finished run's final weights, to train on")
    p.add_argument("--held-out-every", type=int, metavar="N",
                   help="score the held-out split every N epochs into RUN_DIR/held_out.jsonl "
                        "(e.g. bAbI's per-task errors; default: the preset's, 0: never)")
    p.add_argument("--distribute", default="none", choices=["none", "mirrored", "multi-worker"],
                   help="mirrored: this machine's GPUs; multi-worker: the machines of the "
                        "TF_CONFIG environment variable (the chief writes RUN_DIR, which every "
                        "worker must share); each step trains on the same global batch")
    p.add_argument("--publish", action="store_true", help="copy the weights into zoo/weights")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("pick", help="score restarts (seeds) of a preset; keep the lowest "
                                    "training error, as the MemN2N paper does")
    p.add_argument("name")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="finished runs of one preset")
    p.add_argument("--data-dir", help="data directory (default: $SPECIALNETS_DATA)")
    p.add_argument("--cache-dir", default="runs/tfds")
    p.add_argument("--publish", action="store_true",
                   help="copy the picked run's weights into zoo/weights")
    p.set_defaults(func=cmd_pick)

    p = sub.add_parser("evaluate", help="held-out error of pretrained weights or an export")
    p.add_argument("name")
    p.add_argument("--weights", default="pretrained", help="pretrained or a .weights.h5")
    p.add_argument("--export", help="evaluate this SavedModel directory, loaded without project code")
    p.add_argument("--data-dir", help="data directory (default: $SPECIALNETS_DATA)")
    p.add_argument("--split", default="validation",
                   choices=["train", "validation", "validation_a", "validation_b", "test", "all",
                            "beyond_1k"],
                   help="beyond_1k: bAbI 1k models, on the 10k files' stories they never saw; "
                        "validation_a, validation_b: distorted-MNIST models, the first and last 500 "
                        "validation digits (select on one, report the other)")
    p.add_argument("--size", type=int,
                   help="generated tasks: the number of elements per example (e.g. pointer_hull 50)")
    p.add_argument("--data-seed", type=int,
                   help="generated tasks that take it (vqa_shapes): draw the split with this seed "
                        "(training uses 0)")
    p.add_argument("--examples", type=int,
                   help="generated tasks that take it (the addition and memorization models): how many "
                        "held-out examples")
    p.add_argument("--digits", type=int,
                   help="grid_lstm_addition, lstm_addition: both numbers of exactly this many digits")
    p.add_argument("--cache-dir", default="runs/tfds")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export to <base>/NAME/<next version>/")
    p.add_argument("name")
    p.add_argument("--weights", default="pretrained", help="pretrained or a .weights.h5")
    p.add_argument("--base", default="runs/exports")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip loading the export in a process without project code")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve",
                       help="serve every export under --base (TF Serving REST and gRPC APIs)")
    p.add_argument("--base", default="runs/exports")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501, help="REST port; 0 picks a free port")
    p.add_argument("--grpc-port", type=int,
                   help="gRPC port (PredictionService, ModelService): default 8500, or a free "
                        "port when --port is 0; 0 picks a free port; -1 serves no gRPC")
    p.add_argument("--max-request-bytes", type=int, default=32 * 1024 * 1024)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("predict", help="send a request to a server, or run an export locally")
    p.add_argument("name")
    p.add_argument("--input", required=True, help="a .json request body, .npz or .npy")
    p.add_argument("--server", help="http://127.0.0.1:8501 (REST) or grpc://127.0.0.1:8500 "
                                    "(default: run locally)")
    p.add_argument("--base", default="runs/exports", help="exports to run locally")
    p.add_argument("--version", help="default: the latest")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("generate", help="generate audio with a generative zoo model (wavenet_fsdd) "
                                        "into a WAV file")
    p.add_argument("name")
    p.add_argument("--digit", type=int, required=True, help="the digit 0..9 to say")
    p.add_argument("--out", required=True, help="the WAV file to write (8 kHz mono 16-bit; written "
                                                "to a temporary file, then renamed)")
    p.add_argument("--seconds", type=float, default=0.5, help="length (default 0.5 s)")
    p.add_argument("--seed", type=int, default=29, help="random seed of the draws (default 29: the "
                                                        "export's `generate` draws)")
    p.add_argument("--weights", default="pretrained", help="pretrained or a .weights.h5")
    p.add_argument("--no-xla", dest="xla", action="store_false",
                   help="run the generation loop without XLA (slower; as the export does)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("visualize", help="write a PNG of what the model does")
    p.add_argument("name")
    p.add_argument("--output", help="default: runs/NAME.png")
    p.add_argument("--weights", default="pretrained")
    p.set_defaults(func=cmd_visualize)

    p = sub.add_parser("demo", help="export, serve and query every pretrained model")
    p.add_argument("--base", default="runs/exports")
    p.add_argument("--models", nargs="*", help="default: every zoo model")
    p.add_argument("--no-reuse", dest="reuse", action="store_false",
                   help="export again even where the latest version is identical")
    p.set_defaults(func=cmd_demo)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    from exports.verify import VerificationError

    try:
        args.func(args)
    except (UsageError, ValueError, FileNotFoundError, VerificationError) as error:
        print(f"specialnets {args.command}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
