"""bAbI for `fit` and for scoring: word ids, random noise, per-task errors.

    python -m training.tasks.babi.pipeline --data-dir DIR   # rewrites zoo/babi_vocabulary.json

The vocabulary (input words and answer strings) comes from every 1k and 10k
training file, and is committed, so the pretrained models need no data.
"""

import argparse
import collections
import json

import numpy as np
import tensorflow as tf

from training.tasks.babi import reader as babi
from training.epochs import EpochCounter
from zoo import memn2n

FAILED_ABOVE = 0.05  # the paper counts a task failed above 5% error


def _data_dir(data_dir):
    from training.tasks.base import resolve_data_dir

    return resolve_data_dir(data_dir)


def vocabulary_of(examples):
    """Input words and answer classes (lower-cased, sorted) of `examples`,
    and each answer as the data writes it (its most frequent spelling)."""
    words, spellings = set(), {}
    for example in examples:
        for sentence in example.story + (example.question,):
            words.update(sentence.split())
        counts = spellings.setdefault(example.answer, collections.Counter())
        counts[example.written or example.answer] += 1
    answers = sorted(spellings)
    written = [min(spellings[a].items(), key=lambda item: (-item[1], item[0]))[0] for a in answers]
    return {"words": sorted(words), "answers": answers, "answers_as_written": written}


def write_vocabulary(data_dir):
    examples = [e for size in babi.SIZES for e in babi.load(data_dir, size=size)]
    table = vocabulary_of(examples)
    tmp = memn2n.VOCABULARY_PATH.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, indent=1) + "\n")
    tmp.replace(memn2n.VOCABULARY_PATH)
    return table


def encode(examples, table=None):
    """(story ids int32 [N, 50, W], question ids [N, Wq], answer class [N])."""
    table = table or memn2n.vocabulary()
    ids = {word: i + 2 for i, word in enumerate(table["words"])}
    answers = {answer: i for i, answer in enumerate(table["answers"])}
    width = max([len(s.split()) for e in examples for s in e.story + (e.question,)] + [1])
    story = np.zeros((len(examples), memn2n.MEMORY_SIZE, width), np.int32)
    question = np.zeros((len(examples), width), np.int32)
    for n, example in enumerate(examples):
        for i, sentence in enumerate(example.story):
            words = [ids.get(w, 1) for w in sentence.split()]
            story[n, i, : len(words)] = words
        words = [ids.get(w, 1) for w in example.question.split()]
        question[n, : len(words)] = words
    answer = np.array([answers.get(e.answer, -1) for e in examples], np.int64)
    return story, question, answer


def insert_empty_memories(story, rng, fraction):
    """Random noise (RN): about `fraction` empty sentences inserted at random
    places among each story's sentences; the last 50 are kept."""
    out = np.zeros_like(story)
    for n, sentences in enumerate(story):
        real = sentences[sentences.any(axis=-1)]
        extra = rng.binomial(len(real), fraction) if len(real) else 0
        slots = np.ones(len(real) + extra, bool)
        slots[rng.choice(len(slots), extra, replace=False)] = False
        noisy = np.zeros((len(slots),) + sentences.shape[1:], sentences.dtype)
        noisy[slots] = real
        noisy = noisy[-len(sentences):]
        out[n, : len(noisy)] = noisy
    return out


def task_numbers(tasks):
    """`tasks` (None: all 20; a task number or a list of them) as a tuple."""
    if tasks is None:
        return babi.TASKS
    numbers = [tasks] if isinstance(tasks, int) else tasks
    if (not isinstance(numbers, (list, tuple)) or not numbers
            or any(isinstance(t, bool) or not isinstance(t, int) or t not in babi.TASKS for t in numbers)
            or len(set(numbers)) != len(numbers)):
        raise ValueError("`tasks` must be bAbI task numbers: an int in 1-20 or a list of distinct "
                         f"ones, e.g. [19]; received {tasks!r}.")
    return tuple(sorted(numbers))


def balanced(examples):
    """`examples` with each task's repeated a whole number of times, as near
    the largest task's count as that allows (10k here: task 3's 1k file ten
    times)."""
    counts = {}
    for example in examples:
        counts[example.task] = counts.get(example.task, 0) + 1
    largest = max(counts.values(), default=0)
    return [example for task in counts for _ in range(largest // counts[task])
            for example in examples if example.task == task]


def dataset(split, data_dir=None, batch_size=32, augment=False, seed=0, limit=None,
            cache_dir=None, shuffle=None, size="1k", random_noise=0.0, tasks=None, first_epoch=0,
            balance_tasks=False):
    """({"story_ids", "question_ids"}, answer class) batches of `tasks`
    (default: the 20, jointly); the training split is shuffled (and given
    `random_noise` empty memories) anew every epoch e from `(seed, e)`, e
    counted from `first_epoch` (a resumed run's). `balance_tasks`: the
    training split repeats each task's questions (`balanced`)."""
    if not isinstance(balance_tasks, bool):
        raise ValueError(f"`balance_tasks` must be true or false; received {balance_tasks!r}.")
    examples = babi.examples_of(_data_dir(data_dir), split, task_numbers(tasks), size)[:limit]
    if balance_tasks and split == "train":
        examples = balanced(examples)
    story, question, answer = encode(examples)
    if split != "train":
        ds = tf.data.Dataset.from_tensor_slices(({"story_ids": story, "question_ids": question},
                                                 answer))
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    epochs = EpochCounter(first_epoch)

    def one_epoch():
        rng = np.random.default_rng([seed, epochs.draw()])
        order = rng.permutation(len(answer))
        noisy = insert_empty_memories(story[order], rng, random_noise) if random_noise else story[order]
        for start in range(0, len(order), batch_size):
            rows = slice(start, start + batch_size)
            yield ({"story_ids": noisy[rows], "question_ids": question[order[rows]]},
                   answer[order[rows]])

    signature = ({"story_ids": tf.TensorSpec((None,) + story.shape[1:], tf.int32),
                  "question_ids": tf.TensorSpec((None, question.shape[1]), tf.int32)},
                 tf.TensorSpec((None,), tf.int64))
    ds = tf.data.Dataset.from_generator(one_epoch, output_signature=signature)
    batches = -(-len(answer) // batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


LABELS = np.dtype([("task", np.int32), ("answer", object)])


def held_out(split, data_dir=None, cache_dir=None, size="1k", tasks=None, **options):
    """({"story": str [N, 50] ("" padding), "question": str [N]}, labels with
    fields task and answer (as the data writes it: "Fred") of `split`, of
    `tasks` (default: the 20)."""
    examples = babi.examples_of(_data_dir(data_dir), split, task_numbers(tasks), size)
    story = np.full((len(examples), memn2n.MEMORY_SIZE), "", dtype=object)
    for n, example in enumerate(examples):
        story[n, : len(example.story)] = example.story
    labels = np.array([(e.task, e.written or e.answer) for e in examples], dtype=LABELS)
    return {"story": story, "question": np.array([e.question for e in examples], object)}, labels


def score(outputs, inputs, labels):
    """Error per task, their mean and the number of failed tasks (> 5%)."""
    answers = np.array([a.decode() if isinstance(a, bytes) else str(a) for a in outputs["answer"]])
    wrong = answers != labels["answer"].astype(str)
    per_task = {int(t): float(wrong[labels["task"] == t].mean()) for t in np.unique(labels["task"])}
    mean = float(np.mean(list(per_task.values())))
    return {"error": mean, "mean_task_error": mean,
            "failed_tasks": sum(e > FAILED_ABOVE for e in per_task.values()),
            "task_errors": per_task}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Rewrite zoo/babi_vocabulary.json from the data.")
    parser.add_argument("--data-dir", help="default: $SPECIALNETS_DATA")
    args = parser.parse_args(argv)
    table = write_vocabulary(_data_dir(args.data_dir))
    print(f"{len(table['words'])} words, {len(table['answers'])} answers -> {memn2n.VOCABULARY_PATH}")


if __name__ == "__main__":
    main()
