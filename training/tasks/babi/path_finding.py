"""Where bAbI task 19 (path finding) goes wrong, move by move.

    python -m training.tasks.babi.path_finding --data-dir DIR                 # memn2n_babi_10k, pretrained
    python -m training.tasks.babi.path_finding --data-dir DIR --model memn2n_babi --weights RUN/final.weights.h5

A task-19 answer is two moves, such as "s,e": from the question's first place
to a middle one, then on to its second place. Each move is read off one
sentence, "A is DIR of B": the move is DIR when it ends at A, the sentence's
subject, and the opposite direction when it starts there. The report splits
each move's accuracy by that: a model that reads the direction word but not
which side of it the place stands on gets one kind right and the other wrong.
"""

import argparse
import collections
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OPPOSITE = {"n": "s", "s": "n", "e": "w", "w": "e"}
DIRECTIONS = ("north", "south", "east", "west")
KINDS = ("ends at the subject: the sentence's direction", "starts at the subject: its opposite")


def _relation(sentence):
    words = sentence.split()  # "the kitchen is north of the office"
    if len(words) != 7 or words[2] != "is" or words[4] != "of" or words[3] not in DIRECTIONS:
        raise ValueError(f"`story`: expected sentences like 'the kitchen is north of the office'; "
                         f"received {sentence!r}.")
    return words[1], words[3][0], words[6]


def moves(story, question):
    """[(move, kind)] for the two moves of a task-19 question: the move
    ("n", "s", "e" or "w") and which of `KINDS` it is."""
    words = question.split()  # "how do you go from the kitchen to the garden"
    if "from" not in words or "to" not in words or len(words) != 10:
        raise ValueError(f"`question`: expected 'how do you go from the A to the B'; received {question!r}.")
    start, goal = words[words.index("from") + 2], words[words.index("to") + 2]
    relations = [_relation(s) for s in story if s]

    def step(here, there):
        for subject, direction, obj in relations:
            if (subject, obj) == (there, here):
                return direction, KINDS[0]
            if (subject, obj) == (here, there):
                return OPPOSITE[direction], KINDS[1]
        return None

    paths = [(step(start, middle), step(middle, goal)) for middle in
             {p for s, _, o in relations for p in (s, o)} - {start, goal}]
    paths = [p for p in paths if None not in p]
    if len(paths) != 1:
        raise ValueError(f"`story`: expected one two-move path from {start} to {goal}; found {len(paths)}.")
    return list(paths[0])


def tally(stories, questions, answers, predictions):
    """{(move number, kind): [right, total]}: does the predicted answer get
    each of the true answer's moves right?"""
    counts = collections.defaultdict(lambda: [0, 0])
    for story, question, answer, predicted in zip(stories, questions, answers, predictions):
        path = moves(story, question)
        if ",".join(move for move, _ in path) != answer:
            raise ValueError(f"`answers`: {answer!r} is not the path of {question!r} in its story.")
        guess = predicted.split(",")
        for n, (move, kind) in enumerate(path):
            counts[n + 1, kind][0] += int(len(guess) == 2 and guess[n] == move)
            counts[n + 1, kind][1] += 1
    return dict(counts)


def table(counts):
    lines = ["| move | " + " | ".join(KINDS) + " |", "|---|---|---|"]
    for n in (1, 2):
        cells = [f"{right}/{total} right ({right / total:.1%})" if total else "-"
                 for right, total in (counts.get((n, kind), [0, 0]) for kind in KINDS)]
        lines.append(f"| {'first' if n == 1 else 'second'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="default: $SPECIALNETS_DATA")
    parser.add_argument("--model", default="memn2n_babi_10k", help="a bAbI model of the zoo")
    parser.add_argument("--weights", default="pretrained", help="pretrained or a .weights.h5")
    parser.add_argument("--split", default="validation", choices=["train", "validation"])
    args = parser.parse_args(argv)

    import zoo
    from training import tasks, train

    entry = zoo.get(args.model)
    if not entry.task.startswith("babi"):
        parser.error(f"--model: {args.model} is not a bAbI model (its task is {entry.task}).")
    task = tasks.get(entry.task)
    try:
        inputs, labels = task.held_out(args.split, data_dir=args.data_dir, tasks=[19])
        model = (entry.load_pretrained() if args.weights == "pretrained"
                 else train.load_weights_file(entry, args.weights))
    except (ValueError, FileNotFoundError) as error:  # no data, a wrong weights file
        parser.error(str(error))
    outputs = train.serve_locally(entry, model, inputs)
    predictions = [a.decode() for a in outputs["answer"]]
    answers = labels["answer"].astype(str)
    counts = tally(inputs["story"], inputs["question"], answers, predictions)
    right = sum(p == a for p, a in zip(predictions, answers))
    print(f"{args.model} ({args.weights}), task 19, {args.split} split: {right}/{len(answers)} answers "
          f"right ({right / len(answers):.1%})\n")
    print(table(counts))


if __name__ == "__main__":
    main()
