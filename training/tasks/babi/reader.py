"""bAbI question answering (tasks 1-20, v1.2): a parser, a split and a
tensorflow-datasets builder.

    examples = babi.load(data_dir, tasks=range(1, 21), size="1k")
    train = babi.split_examples(examples, "train")
    test = babi.load(data_dir, size="1k", files="test")  # the official test sets
    unseen = babi.load_beyond_1k(data_dir)  # the 10k files' other stories
    builder = babi.builder(data_dir, "10k", cache_dir="runs/tfds")

Files: `qaN_<name>_train.txt` under `data_dir/babi/en` (1k) or
`data_dir/babi/en-10k` (10k); `data_dir` may also be the `babi` folder
itself, or a folder holding the `qaN_*_train.txt` files directly. A task
whose 10k file is missing (qa3 in this project's copy) falls back to its 1k
file; `Example.source` records the file every example came from. The
official test files (`qaN_<name>_test.txt`, beside the training files; not
in this project's data) are read with `files="test"`: every question of
them, the split "test"; a missing 10k test file falls back to
the 1k one, as a training file does.

The 1k training file of a task is the first 1,000 questions of its 10k file
(bAbI v1.2). `load_beyond_1k` reads the 10k files' stories after those, the
split "beyond_1k": about 9,000 questions a task that a model trained on the
1k files never saw, drawn as the test sets were; tasks without a 10k file of
their own (qa3 here) have none.

Format: numbered lines; numbering restarts at 1 for a new story. A statement
line is `N sentence.`; a question line is
`N question?<TAB>answer<TAB>supporting fact ids` (space-separated ids of
earlier statement lines of the same story).

An example per question (as in Sukhbaatar et al.'s MemN2N):
- `story`: the story's statements before the question (never earlier
  questions), the last `MEMORY_SIZE` (50) of them, oldest first;
- `question`: the question;
- `answer`: the file's answer, lower-cased (the class a model predicts); the
  comma-joined answers of tasks 8 and 19 are kept as one ("apple,milk", "n,w");
- `written`: the answer as the file writes it ("Fred"): what a user compares
  an exported model's answer with;
- `supporting`: the positions in `story` of the supporting facts, -1 where a
  fact fell out of the last 50 statements;
- `task` (1-20), `story_id` (0-based index of the story in its file),
  `split` and `source` (the file).

Text normalisation (`normalize`), for statements and questions; a serving
graph must tokenise the same way (`zoo.memn2n.tf_normalize`, which owns the
two patterns below, is the TensorFlow version):
1. lower-case (`str.lower` / `tf.strings.lower(..., encoding="utf-8")`);
2. replace every match of `PUNCTUATION = r"[.?!,;:]"` by a space;
3. collapse runs of whitespace (`WHITESPACE = r"\\s+"`) into one space and
   strip both ends.
So "Mary moved to the bathroom." -> "mary moved to the bathroom" and
"Where is Mary? " -> "where is mary"; the words are `text.split(" ")`.

Split: each task's file is cut at one story boundary: the stories from the
boundary on form the validation split, the others the training split, so a
story's questions are never split across the two. The boundary is the story
start nearest to 90% of the task's questions (ties: the later one), so
validation holds 10% of each task's questions give or take half a story.
"""

import dataclasses
import functools
import hashlib
import re
from pathlib import Path

from training.tasks.base import prepare
from zoo.memn2n import PUNCTUATION, WHITESPACE

MEMORY_SIZE = 50
VALIDATION_FRACTION = 0.1
TASKS = tuple(range(1, 21))
SIZES = {"1k": "en", "10k": "en-10k"}
SPLITS = ("train", "validation")  # of the training files
BEYOND_1K = "beyond_1k"  # the 10k training files' stories that the 1k files do not hold
FILES = {"train": SPLITS, "test": ("test",)}  # which files hold which splits
MANUAL_INSTRUCTIONS = (
    "Place the bAbI v1.2 training files in the manual directory: "
    "en/qaN_<name>_train.txt (1k) and en-10k/qaN_<name>_train.txt (10k)."
)

_PUNCTUATION = re.compile(PUNCTUATION)
_WHITESPACE = re.compile(WHITESPACE)
_LINE = re.compile(r"(\d+) (.*)")


def normalize(text):
    """Lower-cased `text` with . ? ! , ; : turned into spaces, words single-spaced."""
    return _WHITESPACE.sub(" ", _PUNCTUATION.sub(" ", text.lower())).strip()


@dataclasses.dataclass(frozen=True)
class Example:
    story: tuple
    question: str
    answer: str
    supporting: tuple
    task: int
    story_id: int
    split: str
    source: str
    written: str = ""

    def features(self):
        """The example as the tfds builder stores it."""
        return {"story": list(self.story), "question": self.question,
                "answer": self.answer, "supporting": list(self.supporting),
                "task": self.task}


def _validation_start(first_questions, total):
    """Index of the first validation story, given each story's first question index."""
    target = (1 - VALIDATION_FRACTION) * total
    starts = [(abs(start - target), -story) for story, start in enumerate(first_questions)]
    return -min(starts)[1] if starts else 0


def parse(path, task, split=None):
    """The examples of one bAbI file (`task` 1-20); ValueError names file and line.

    `split=None` cuts a training file into train and validation (above);
    a split's name puts every example in it (a test file)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read bAbI file ({error}).") from error
    raw = []  # (story_id, statements, question, answer, supporting positions)
    first_questions = []  # index in `raw` of each story's first question, or None
    story_id, previous = -1, 0
    statements, position = [], {}  # statements of the story; line id -> index in statements

    def fail(number, message):
        raise ValueError(f"{path}, line {number}: {message}")

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if not match:
            fail(number, f"expected '<number> <sentence>' (a line id, then a space); found {line[:60]!r}.")
        line_id, text = int(match.group(1)), match.group(2)
        if line_id == 1:
            story_id, statements, position = story_id + 1, [], {}
            first_questions.append(None)
        elif line_id != previous + 1:
            expected = "1" if previous == 0 else f"{previous + 1} (or 1 for a new story)"
            fail(number, f"line id {line_id} breaks the numbering: expected {expected}.")
        previous = line_id
        fields = text.split("\t")
        if len(fields) == 1:
            sentence = normalize(text)
            if not sentence:
                fail(number, "empty statement.")
            position[line_id] = len(statements)
            statements.append(sentence)
            continue
        if len(fields) != 3:
            fail(number, f"a question line needs 3 tab-separated fields "
                         f"(question, answer, supporting fact ids); found {len(fields)}.")
        question, written, ids = normalize(fields[0]), fields[1].strip(), fields[2].split()
        answer = written.lower()
        if not question or not answer:
            fail(number, "empty question or answer.")
        supporting = []
        for fact in ids:
            if not fact.isdigit() or int(fact) not in position:
                fail(number, f"supporting fact id {fact!r} does not exist: expected the "
                             f"id of a statement line before this question in the same "
                             f"story (1-{previous - 1}, questions excluded).")
            supporting.append(position[int(fact)])
        if first_questions[-1] is None:
            first_questions[-1] = len(raw)
        raw.append((story_id, len(statements), question, answer, written, supporting, statements))
    if not raw:
        raise ValueError(f"{path}: no question lines (expected 'question<TAB>answer<TAB>ids').")
    starts = [start for start in first_questions if start is not None]
    story_of_start = [raw[start][0] for start in starts]
    cut = story_of_start[_validation_start(starts, len(raw))]

    def split_of(story_id):
        return split or ("validation" if story_id >= cut else "train")

    examples = []
    for story_id, count, question, answer, written, supporting, statements in raw:
        offset = max(0, count - MEMORY_SIZE)
        examples.append(Example(
            story=tuple(statements[offset:count]),
            question=question,
            answer=answer,
            supporting=tuple(i - offset if i >= offset else -1 for i in supporting),
            task=task,
            story_id=story_id,
            split=split_of(story_id),
            source=str(path),
            written=written,
        ))
    return examples


def _root(data_dir):
    """The folder holding en/ and en-10k/: `data_dir/babi` or `data_dir`;
    else `data_dir` itself, taken to hold the qa files directly."""
    data_dir = Path(data_dir)
    for root in (data_dir / "babi", data_dir):
        if any((root / sub).is_dir() for sub in SIZES.values()):
            return root
    return data_dir


def _folders(data_dir, size):
    """(primary folder, fallback folder) of `size` under `data_dir`."""
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {list(SIZES)}; received {size!r}.")
    root = _root(data_dir)
    if root == Path(data_dir) and not any((root / sub).is_dir() for sub in SIZES.values()):
        return root, root  # the qa files themselves
    return root / SIZES[size], root / SIZES["1k"]


def task_files(data_dir, tasks=TASKS, size="1k", files="train"):
    """{task: file} of `size`, the training or test (`files`) files; a
    missing 10k file falls back to the 1k file."""
    if files not in FILES:
        raise ValueError(f"`files` must be one of {list(FILES)}; received {files!r}.")
    primary, fallback = _folders(data_dir, size)
    found_files = {}
    for task in tasks:
        task = int(task)
        if task not in TASKS:
            raise ValueError(f"bAbI tasks are 1-20; received {task}.")
        pattern = f"qa{task}_*_{files}.txt"
        for folder in dict.fromkeys((primary, fallback)):
            found = sorted(folder.glob(pattern))
            if len(found) > 1:
                raise ValueError(f"{folder}: several files match {pattern!r}: {[p.name for p in found]}.")
            if found:
                found_files[task] = found[0]
                break
        else:
            where = " or ".join(str(f) for f in dict.fromkeys((primary, fallback)))
            hint = (" The official test files come with the bAbI v1.2 download; put them "
                    "beside the training files." if files == "test" else "")
            raise FileNotFoundError(
                f"No bAbI file {pattern!r} for task {task} ({size}) in {where}; expected "
                f"the files under DATA_DIR/babi/{SIZES[size]} (or DATA_DIR/{SIZES[size]}).{hint}")
    return found_files


def load(data_dir, tasks=TASKS, size="1k", files="train"):
    """The examples of `tasks` in the `size` ("1k" or "10k") training (or
    test: `files="test"`) files, task by task."""
    split = None if files == "train" else files
    return [example for task, path in task_files(data_dir, tasks, size, files).items()
            for example in parse(path, task, split)]


def load_beyond_1k(data_dir, tasks=TASKS):
    """The examples (split "beyond_1k") of the 10k training files' stories
    after the 1k files' own, which are the 10k files' first; ValueError where
    a 1k file is not the start of its 10k file."""
    small_files = task_files(data_dir, tasks, "1k")
    examples = []
    for task, large in task_files(data_dir, tasks, "10k").items():
        small = small_files[task]
        if large == small:  # no 10k file of its own
            continue
        small_lines = small.read_text(encoding="utf-8").splitlines()
        if large.read_text(encoding="utf-8").splitlines()[: len(small_lines)] != small_lines:
            raise ValueError(f"{large}: expected its first {len(small_lines)} lines to be "
                             f"{small} (a bAbI v1.2 1k file is the start of its 10k file).")
        seen = sum(line.startswith("1 ") for line in small_lines)  # stories of the 1k file
        examples += [dataclasses.replace(example, split=BEYOND_1K)
                     for example in parse(large, task) if example.story_id >= seen]
    return examples


def examples_of(data_dir, split, tasks=TASKS, size="1k"):
    """The examples of `split`: "train" or "validation" of the `size`
    training files, "test" of the test files, or "beyond_1k" (for a model
    trained on the 1k files, `size="1k"`)."""
    if split == BEYOND_1K:
        if size != "1k":
            raise ValueError(f"split {BEYOND_1K!r} holds the 10k files' training stories: it "
                             f"scores a model trained on the 1k files only; received size={size!r}.")
        return load_beyond_1k(data_dir, tasks)
    return split_examples(load(data_dir, tasks, size, files=files_of(split)), split)


def files_of(split):
    """"train" or "test": the files that hold `split`."""
    for files, splits in FILES.items():
        if split in splits:
            return files
    raise ValueError(f"`split` must be one of {[s for v in FILES.values() for s in v]}; "
                     f"received {split!r}.")


def split_examples(examples, split):
    """The examples of `split` ("train", "validation" or "test"); whole stories, see above."""
    files_of(split)
    return [example for example in examples if example.split == split]


def fingerprint(data_dir, tasks=TASKS, size="1k"):
    """A short hash of the files' names, sizes and times (cache key)."""
    digest = hashlib.sha256()
    for task, path in task_files(data_dir, tasks, size).items():
        stat = path.stat()
        digest.update(f"{task}:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


@functools.cache  # tfds registers a builder class by name: define it once
def _builder_class():
    import numpy as np
    import tensorflow_datasets as tfds
    from etils import epath

    @dataclasses.dataclass
    class BabiConfig(tfds.core.BuilderConfig):
        size: str = "1k"
        tasks: tuple = TASKS

    class SpecialnetsBabi(tfds.core.GeneratorBasedBuilder):
        """bAbI tasks 1-20 (v1.2) from local files, split train / validation."""

        VERSION = tfds.core.Version("1.0.0")
        BUILDER_CONFIG_CLASS = BabiConfig
        BUILDER_CONFIGS = [
            BabiConfig(name="en", description="1k training files", size="1k"),
            BabiConfig(name="en-10k", description="10k training files (qa3: 1k)", size="10k"),
        ]
        pkg_dir_path = epath.Path(__file__).parent  # see training/tasks/mnist/idx.py
        MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_INSTRUCTIONS

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "story": tfds.features.Sequence(tfds.features.Text()),
                    "question": tfds.features.Text(),
                    "answer": tfds.features.Text(),
                    "supporting": tfds.features.Sequence(np.int32),
                    "task": np.int32,
                }),
                disable_shuffling=True,  # files' order: task, story, question
            )

        def _split_generators(self, dl_manager):
            config = self.builder_config
            examples = load(dl_manager.manual_dir, config.tasks, config.size)
            return {split: self._generate_examples(split_examples(examples, split))
                    for split in SPLITS}

        def _generate_examples(self, examples):
            for index, example in enumerate(examples):
                yield index, example.features()

    return SpecialnetsBabi, BabiConfig


def builder(data_dir, size="1k", cache_dir="runs/tfds", tasks=TASKS):
    """A prepared tfds builder of the `size` files of `tasks` under `data_dir`.

    Config "en" (1k) or "en-10k" for all 20 tasks, "en-qa1-8" etc. for
    others. The records live in `cache_dir/babi-<fingerprint of the files>`.
    """
    import tensorflow_datasets as tfds

    tasks = tuple(sorted({int(task) for task in tasks}))
    task_files(data_dir, tasks, size)  # FileNotFoundError before tfds
    builder_class, config_class = _builder_class()
    config = SIZES[size]  # one of BUILDER_CONFIGS
    if tasks != TASKS:
        config = config_class(name=f"{config}-qa" + "-".join(map(str, tasks)),
                              description=f"{size} files of tasks {tasks}",
                              size=size, tasks=tasks)
    manual_dir = _root(data_dir)
    tfds_dir = Path(cache_dir) / f"babi-{fingerprint(data_dir, tasks, size)}"
    prepared = builder_class(config=config, data_dir=str(tfds_dir))
    return prepare(prepared, download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
