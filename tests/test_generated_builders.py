import numpy as np

from training.tasks import base, generated


def _classes():
    import tensorflow_datasets as tfds

    return generated.builder_class(
        "SpecialnetsTestCounts", "Counts, for the preparation test.",
        lambda config: {"value": tfds.features.Tensor(shape=(), dtype=np.int64)},
        lambda config, split, index: {"value": index * 10 + config.seed})


def test_a_builder_made_before_another_process_prepared_its_data_reads_that_data(tmp_path):
    # Two trainings started at once on a fresh cache: both make their builder, one prepares, the
    # other finds the data ready after the lock (it once found no splits and failed).
    builder_class, config_class = _classes()
    config = config_class(name="seed3-train4", examples=(("train", 4),), seed=3)
    first, second = (builder_class(config=config, data_dir=str(tmp_path)) for _ in range(2))
    base.prepare(first)
    base.prepare(second)
    values = [int(row["value"]) for row in second.as_dataset(split="train").as_numpy_iterator()]
    assert values == [3, 13, 23, 33]
