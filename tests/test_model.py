import torch
from torch import nn

import math

import pytest

from digitlib.model import (
    ARCHITECTURES, NOT_A_DIGIT, DigitNet, QuickNet, SeedNet, build_model, count_parameters, digit_probabilities,
    output_count,
)


def test_seednet_is_the_articles_network():
    m = SeedNet()
    assert (m.conv1.in_channels, m.conv1.out_channels, m.conv1.kernel_size) == (1, 10, (5, 5))
    assert (m.conv2.in_channels, m.conv2.out_channels, m.conv2.kernel_size) == (10, 20, (5, 5))
    assert isinstance(m.conv2_drop, nn.Dropout2d)
    assert (m.fc1.in_features, m.fc1.out_features) == (320, 50)
    assert (m.fc2.in_features, m.fc2.out_features) == (50, 10)
    # 260 + 5020 + 16050 + 510 parameters
    assert count_parameters(m) == 21840


def test_digitnet_is_small_and_maps_digits_to_ten_logits_and_not_a_digit():
    m = DigitNet().eval()
    assert count_parameters(m) <= 1_500_000
    out = m(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 11) and output_count(m) == NOT_A_DIGIT + 1
    plain = build_model("digitnet", classes=10).eval()
    assert plain(torch.zeros(3, 1, 28, 28)).shape == (3, 10) and output_count(plain) == 10


def test_digit_probabilities_leave_the_rest_to_not_a_digit():
    logits = torch.tensor([[0.0] * 10 + [math.log(9.0) + math.log(10.0)], [0.0] * 10 + [-50.0]])
    probs = digit_probabilities(logits)
    assert probs.shape == (2, 10)
    torch.testing.assert_close(probs.sum(1), torch.tensor([0.1, 1.0]))
    assert digit_probabilities(torch.zeros(1, 10)).sum().item() == pytest.approx(1.0)


def test_seednet_output_shape():
    assert SeedNet().eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_quicknet_is_small_with_ten_outputs_by_default_and_eleven_on_request():
    model = build_model("quicknet").eval()
    assert isinstance(model, QuickNet) and 100_000 < count_parameters(model) < 120_000
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert output_count(build_model("quicknet", classes=NOT_A_DIGIT + 1)) == 11


def test_build_model_by_name():
    assert isinstance(build_model("DigitNet"), DigitNet)
    assert isinstance(build_model("seednet"), SeedNet)
    with pytest.raises(ValueError):
        build_model("seednet", classes=11)  # the article's network stays as it was
    with pytest.raises(ValueError):
        build_model("digitnet", classes=12)
    assert set(ARCHITECTURES) == {"digitnet", "quicknet", "seednet"}
    try:
        build_model("resnet")
    except ValueError as exc:
        assert "digitnet" in str(exc)
    else:
        raise AssertionError("unknown architecture accepted")
