"""The task families the zoo trains on, one module or package each.

A family gives its data (a generator or a reader, and a tensorflow-datasets
builder), its held-out scorer and its report, and a `TASKS` dict of the
`Task`s it defines (`training/tasks/base.py`). A new family adds one line
below.
"""

from training.tasks import (babi, chat, fizzbuzz, fsdd, languages, mnist, ntm, parity, pointer, ptb,
                            shapes_vqa)
from training.tasks import fsdd_wavenet
from training.tasks import addition
from training.tasks import fra_eng
from training.tasks import memorization
from training.tasks.base import DATA_ENV, Task, class_error, resolve_data_dir  # noqa: F401

TASKS = {
    **mnist.TASKS,        # mnist, mnist_rts, mnist_r, mnist_p, mnist_e, mnist_tc, mnist_autoencoder
    **chat.TASKS,         # chat
    **pointer.TASKS,      # pointer_sort, pointer_hull, pointer_tsp
    **babi.TASKS,         # babi, babi_10k
    **shapes_vqa.TASKS,   # vqa_shapes
    **ntm.TASKS,          # ntm_copy, ntm_repeat_copy, ntm_recall
    **languages.TASKS,    # anbn, anbncn, anbncndn, anb2n, anbmcnm
    **fizzbuzz.TASKS,     # fizzbuzz
    **fsdd.TASKS,         # fsdd
    **ptb.TASKS,          # ptb
    **parity.TASKS,       # parity
    **fsdd_wavenet.TASKS,  # fsdd_wavenet
    **addition.TASKS,     # addition
    **fra_eng.TASKS,      # fra_eng
    **memorization.TASKS,  # memorization
}


def get(name):
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; expected one of {sorted(TASKS)}.")
    return TASKS[name]
