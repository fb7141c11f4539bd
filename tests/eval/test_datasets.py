import pytest

from lzn.eval.datasets import evaluation_split

RECORD = {"data": "digits", "test_fraction": 0.2, "seed": 3}


def test_the_models_record_decides_the_split():
    split = evaluation_split(RECORD)
    assert (split.data, split.test_fraction, split.seed, split.checked) == ("digits", 0.2, 3, True)
    # A config that states the same split is accepted, up to float rounding.
    assert evaluation_split(RECORD, data="digits", test_fraction=0.2, seed=3) == split
    rounded = evaluation_split({**RECORD, "test_fraction": 0.3}, test_fraction=0.1 + 0.2)
    assert rounded.test_fraction == 0.3
    assert "the split the model was trained on" in split.describe()


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        (
            {"seed": 0},
            r"^the model was trained on digits \(split test_fraction 0.2, seed 3\); the config "
            r"asks for split_seed 0: its test images would overlap the model's training images",
        ),
        ({"test_fraction": 0.1}, "asks for test_fraction 0.1: its test images would overlap"),
        ({"data": "mnist"}, "asks for data mnist: evaluate a model on the data set it was"),
    ],
)
def test_a_split_that_contradicts_the_record_is_refused_naming_both(asked, message):
    with pytest.raises(ValueError, match=message):
        evaluation_split(RECORD, **asked)


def test_without_a_record_the_configs_split_is_used_and_marked_unchecked():
    split = evaluation_split(None, data="mnist", seed=7)
    assert (split.data, split.test_fraction, split.seed, split.checked) == ("mnist", 0.2, 7, False)
    assert "could not be checked" in split.describe()
    assert split.as_dict()["checked"] is False
    assert evaluation_split(None, data="digits").seed == 0
    with pytest.raises(ValueError, match="name the data set"):
        evaluation_split(None)


def test_a_partial_record_is_completed_from_the_config_and_not_called_checked():
    split = evaluation_split({"data": "digits"}, seed=2)
    assert (split.data, split.seed, split.checked) == ("digits", 2, False)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
        evaluation_split(None, data="digits", test_fraction=1.0)
    with pytest.raises(ValueError, match="names no data set"):
        evaluation_split({"seed": 3})


@pytest.mark.parametrize("data", ["cifar10", "imagenet", "folder"])
def test_a_data_set_with_its_own_split_has_no_fraction_or_seed_to_choose(data):
    split = evaluation_split({"data": data})
    assert (split.data, split.test_fraction, split.seed, split.checked) == (data, None, None, True)
    assert split.fixed and split.as_dict()["source"] == "the data set's own split"
    unrecorded = evaluation_split(None, data=data)
    assert unrecorded.fixed and not unrecorded.checked
    with pytest.raises(ValueError, match=rf"^{data} has its own split .*: leave split_seed out"):
        evaluation_split({"data": data}, seed=1)
    with pytest.raises(ValueError, match="leave test_fraction out"):
        evaluation_split(None, data=data, test_fraction=0.2)


def test_a_fixed_data_set_other_than_the_models_is_refused_both_ways():
    with pytest.raises(ValueError, match=r"trained on cifar10; the config asks for data digits"):
        evaluation_split({"data": "cifar10"}, data="digits")
    with pytest.raises(ValueError, match=r"trained on digits \(split .*asks for data cifar10"):
        evaluation_split(RECORD, data="cifar10")
