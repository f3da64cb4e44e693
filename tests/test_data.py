from pathlib import Path

import pytest
import torch

from digitlib import data
from digitlib.data import DataUnavailableError, augment, load_mnist, resolve_data_dir


def test_data_folder_argument_beats_env_beats_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLIB_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("DIGITLIB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_dir(None) == tmp_path / "cache" / "digitlib" / "data"


def test_loads_both_splits(data_dir):
    train, test = load_mnist(True, data_dir, download=False), load_mnist(False, data_dir, download=False)
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10000, 28, 28) and len(test.labels) == 10000
    assert set(test.labels.unique().tolist()) == set(range(10))


def test_offline_without_data_gives_one_clear_error(tmp_path):
    with pytest.raises(DataUnavailableError) as err:
        load_mnist(False, tmp_path / "empty", download=False)
    message = str(err.value)
    assert str(tmp_path / "empty") in message and "train-images-idx3-ubyte" in message
    assert "\n" not in message


def test_failed_download_gives_the_same_clear_error(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    def no_network(self):
        raise OSError("network is unreachable")

    monkeypatch.setattr(MNIST, "download", no_network)
    with pytest.raises(DataUnavailableError, match="download failed.*network is unreachable"):
        load_mnist(True, tmp_path / "nothing-here", download=True)


def test_env_var_is_used(monkeypatch, data_dir):
    monkeypatch.setenv("DIGITLIB_DATA", str(data_dir))
    assert len(load_mnist(False, None, download=False)) == 10000


def test_augmentation_changes_digits_but_keeps_range_and_is_seeded(data_dir):
    test = load_mnist(False, data_dir, download=False)
    x = test.images[:64].float().div(255).unsqueeze(1)
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x, torch.Generator().manual_seed(3))
    c = augment(x, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a - x).abs().mean() > 0.02  # the digits really moved
    # ink is roughly preserved: no digit vanishes
    assert (a.sum((1, 2, 3)) > 0.4 * x.sum((1, 2, 3))).all()


def test_stroke_width_transform_thickens_and_thins():
    x = torch.zeros(200, 1, 28, 28)
    x[:, :, 8:20, 13:16] = 1.0
    out = data.random_stroke_width(x, 1.0, torch.Generator().manual_seed(0))
    ink = out.sum((1, 2, 3))
    assert (ink > x.sum((1, 2, 3)) + 1).any() and (ink < x.sum((1, 2, 3)) - 1).any()


def test_data_folder_path_type(tmp_path):
    assert isinstance(resolve_data_dir(str(tmp_path)), Path)


def test_not_digits_are_repeatable_mnist_like_and_mostly_wider_than_digits(data_dir):
    test = load_mnist(False, data_dir, download=False)
    pieces = data.make_not_digits(test.images[:500], 300, seed=3)
    assert pieces.shape == (300, 28, 28) and pieces.dtype == torch.uint8
    assert torch.equal(pieces, data.make_not_digits(test.images[:500], 300, seed=3))
    assert not torch.equal(pieces, data.make_not_digits(test.images[:500], 300, seed=4))

    def ink_width_over_height(images):
        ink = images > 64
        cols, rows = ink.any(1).sum(1).float(), ink.any(2).sum(1).float()
        return cols / rows.clamp(min=1)

    # Every piece has ink, and fits MNIST's 20x20 box like a digit does.
    assert (pieces > 64).flatten(1).any(1).all()
    assert ((pieces > 64).any(1).sum(1) <= 22).all() and ((pieces > 64).any(2).sum(1) <= 22).all()
    # Three in four are two digits side by side: far more of them are wider than tall than digits are.
    wide = lambda images: (ink_width_over_height(images) > 1.0).float().mean().item()  # noqa: E731
    assert wide(pieces) > 0.5 and wide(test.images[:1000]) < 0.1
