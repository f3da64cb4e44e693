import torch
from torch import nn

from digitlib.model import ARCHITECTURES, DigitNet, SeedNet, build_model, count_parameters


def test_seednet_is_the_articles_network():
    m = SeedNet()
    assert (m.conv1.in_channels, m.conv1.out_channels, m.conv1.kernel_size) == (1, 10, (5, 5))
    assert (m.conv2.in_channels, m.conv2.out_channels, m.conv2.kernel_size) == (10, 20, (5, 5))
    assert isinstance(m.conv2_drop, nn.Dropout2d)
    assert (m.fc1.in_features, m.fc1.out_features) == (320, 50)
    assert (m.fc2.in_features, m.fc2.out_features) == (50, 10)
    # 260 + 5020 + 16050 + 510 parameters
    assert count_parameters(m) == 21840


def test_digitnet_is_small_and_maps_digits_to_ten_logits():
    m = DigitNet().eval()
    assert count_parameters(m) <= 1_500_000
    out = m(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)


def test_seednet_output_shape():
    assert SeedNet().eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_build_model_by_name():
    assert isinstance(build_model("DigitNet"), DigitNet)
    assert isinstance(build_model("seednet"), SeedNet)
    assert set(ARCHITECTURES) == {"digitnet", "seednet"}
    try:
        build_model("resnet")
    except ValueError as exc:
        assert "digitnet" in str(exc)
    else:
        raise AssertionError("unknown architecture accepted")
