"""Bad input gets a clear exception that names what is wrong, never a NumPy error from
deep inside."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\) and \(4, 5\).*\(3\).*\(4\)"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(cr.ShapeError, match=r"\(3,\) and \(4,\)"):
        cr.ones(3) @ cr.ones(4)
    with pytest.raises(cr.ShapeError, match="at least 1 dimension"):
        cr.matmul(cr.tensor(2.0), cr.ones(2))


def test_matmul_batch_mismatch_names_the_batch_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(2,\) and \(3,\)"):
        cr.ones(2, 4, 5) @ cr.ones(3, 5, 6)


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\) and \(4,\).*sizes 3 and 4"):
        cr.ones(2, 3) + cr.ones(4)
    with pytest.raises(cr.ShapeError, match=r"\(2, 3\) and \(2,\)"):
        cr.maximum(cr.ones(2, 3), cr.ones(2))
    with pytest.raises(cr.ShapeError, match="cannot be broadcast"):
        _ = cr.ones(2, 3) < cr.ones(3, 2)


def test_shape_error_is_both_value_error_and_runtime_error():
    for kind in (ValueError, RuntimeError):
        with pytest.raises(kind):
            cr.ones(2, 3) * cr.ones(4)


def test_reshape_to_the_wrong_size():
    with pytest.raises(cr.ShapeError, match=r"shape \(2, 3\) \(6 elements\) into shape \(4,\)"):
        cr.ones(2, 3).reshape(4)
    with pytest.raises(cr.ShapeError, match="into shape"):
        cr.ones(2, 3).reshape(4, -1)
    with pytest.raises(cr.ShapeError, match="at most one"):
        cr.ones(6).reshape(-1, -1)


def test_bad_dims():
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        cr.ones(2, 3).sum(2)
    with pytest.raises(ValueError, match="more than once"):
        cr.ones(2, 3).sum((1, -1))
    with pytest.raises(TypeError, match="dim must be an integer"):
        cr.softmax(cr.ones(3), None)
    with pytest.raises(cr.ShapeError, match="permute"):
        cr.ones(2, 3).permute(0)
    with pytest.raises(ValueError, match="not a permutation"):
        cr.ones(2, 3).permute(0, 0)


def test_cat_and_stack_mismatches():
    with pytest.raises(cr.ShapeError, match=r"tensor 1 has shape \(2, 4\).*\(2, 3\).*dimension 0"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)], 0)
    with pytest.raises(cr.ShapeError, match="equal shapes"):
        cr.stack([cr.ones(2), cr.ones(3)])
    with pytest.raises(ValueError, match="non-empty"):
        cr.cat([])
    with pytest.raises(TypeError, match="list or tuple"):
        cr.cat(cr.ones(3))


def test_indexing_errors():
    x = cr.ones(3, 4)
    with pytest.raises(IndexError, match=r"shape \(3, 4\).*out of bounds"):
        x[5]
    with pytest.raises(IndexError, match="integer or bool"):
        x[cr.tensor([0.5])]
    with pytest.raises(IndexError, match="float"):
        x[1.0]
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        cr.gather(x, 1, cr.tensor([[4]]))


def test_other_argument_errors():
    with pytest.raises(TypeError, match="bool tensor"):
        cr.where(cr.ones(2), cr.ones(2), cr.zeros(2))
    with pytest.raises(ValueError, match="min and max"):
        cr.clamp(cr.ones(2))
    with pytest.raises(cr.ShapeError, match="broadcast_to"):
        cr.broadcast_to(cr.ones(3), (2, 4))
    with pytest.raises(ValueError, match="empty"):
        cr.zeros(0).amax()


def test_no_numpy_warning_escapes_from_ops():
    # pytest turns warnings into errors, so these would fail if NumPy warned.
    x = cr.tensor([0.0, -1.0, 1000.0], requires_grad=True)
    y = x.log() + x.exp() + x.sqrt() + 1 / x + x**-0.5
    y.sum().backward()
    assert np.isnan(y.numpy()).any() and np.isinf(x.grad.numpy()).any()


# ------------------------------------------------------------------ PyTorch's kind, with words
def test_zero_sized_layers_work_as_in_pytorch():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        layer = cr.nn.Linear(0, 3)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        theirs = torch.nn.Linear(0, 3)
    assert layer.weight.shape == tuple(theirs.weight.shape) == (3, 0)
    assert layer.bias.tolist() == theirs.bias.tolist() == [0.0, 0.0, 0.0]  # U(-0, 0)
    x = cr.zeros(2, 0, requires_grad=True)
    layer(x).sum().backward()
    assert layer(x).tolist() == [[0.0] * 3] * 2 and layer.bias.grad.tolist() == [2.0] * 3
    assert layer.weight.grad.shape == (3, 0) and x.grad.shape == (2, 0)
    with pytest.warns(UserWarning, match="no-op"):
        assert cr.nn.Conv2d(0, 4, 3).weight.shape == (4, 0, 3, 3)
    with pytest.warns(UserWarning, match="no-op"):
        assert cr.nn.Linear(3, 0)(cr.ones(2, 3)).shape == (2, 0)
    assert cr.nn.init.orthogonal_(cr.empty(0, 3)).shape == (0, 3)


def test_batch_norm_of_zero_features_builds_and_refuses_input_as_pytorch_does():
    bn, theirs = cr.nn.BatchNorm1d(0), torch.nn.BatchNorm1d(0)
    assert bn.weight.shape == tuple(theirs.weight.shape) == (0,)
    for mode in ("train", "eval"):
        getattr(bn, mode)()
        getattr(theirs, mode)()
        with pytest.raises(IndexError):
            theirs(torch.zeros(4, 0))
        with pytest.raises(IndexError, match=r"input of shape \(4, 0\) has no channels"):
            bn(cr.zeros(4, 0))
    with pytest.raises(IndexError, match="num_features=0"):
        cr.nn.BatchNorm2d(0)(cr.zeros(2, 0, 3, 3))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 5, 0), "step must be nonzero"),
        ((0, 5, 0.0), "step must be nonzero"),
        ((5, 0, 1), "upper bound and lower bound inconsistent with step sign"),
        ((0, 5, -1), "upper bound and lower bound inconsistent with step sign"),
        ((0, float("inf")), "unsupported range: 0 -> inf"),
        ((float("nan"), 5), "unsupported range: nan -> 5"),
    ],
)
def test_arange_refuses_what_pytorch_refuses_in_its_words(args, message):
    with pytest.raises(RuntimeError, match=message):
        torch.arange(*args)
    with pytest.raises(RuntimeError, match=f"arange: {message}"):
        cr.arange(*args)
    assert cr.arange(0, 0, 1).tolist() == torch.arange(0, 0, 1).tolist() == []


def test_a_fractional_dim_is_a_type_error_naming_dim():
    with pytest.raises(TypeError):
        torch.ones(2, 3).sum(dim=1.5)
    with pytest.raises(
        TypeError, match="sum: dim must be an integer or a tuple of integers, got float 1\\.5"
    ):
        cr.ones(2, 3).sum(dim=1.5)
    with pytest.raises(TypeError, match="mean: dim must be an integer, got float 1\\.5"):
        cr.ones(2, 3).mean(dim=(0, 1.5))
    with pytest.raises(
        TypeError, match="amax: dim must be an integer or a tuple of integers, got str"
    ):
        cr.ones(2, 3).amax(dim="rows")


def test_adams_betas_must_be_a_pair_of_numbers():
    p = cr.zeros(2, requires_grad=True)
    with pytest.raises(TypeError):
        torch.optim.Adam([torch.zeros(2, requires_grad=True)], betas=0.9)
    with pytest.raises(TypeError, match=r"betas must be a pair \(beta1, beta2\), got 0.9"):
        cr.optim.Adam([p], betas=0.9)
    with pytest.raises(TypeError, match=r"betas must be a pair \(beta1, beta2\), got \(0.9,\)"):
        cr.optim.AdamW([p], betas=(0.9,))
    with pytest.raises(TypeError, match=r"beta2 \(betas\[1\]\) must be a real number, got '0.99'"):
        cr.optim.Adam([p], betas=(0.9, "0.99"))
    with pytest.raises(TypeError, match="the learning rate must be a real number, got '1e-3'"):
        cr.optim.SGD([p], lr="1e-3")
    assert cr.optim.Adam([p], betas=[0.8, 0.9]).param_groups[0]["betas"] == (0.8, 0.9)


def test_a_checkpoint_without_its_generator_state_says_so(tmp_path):
    model = cr.nn.Linear(2, 2)
    cr.train.save_checkpoint(tmp_path / "c", model)
    state = cr.load(tmp_path / "c")
    del state["rng"]
    cr.save(state, tmp_path / "c")
    with pytest.raises(
        cr.io.FormatError, match=r"has no 'rng' entry \(the random generator's state\)"
    ):
        cr.train.load_checkpoint(tmp_path / "c", model)


def test_a_network_too_large_for_memory_is_refused_before_allocating(monkeypatch, capsys, tmp_path):
    from chainrule import cli
    from chainrule.train import run

    monkeypatch.setattr(run, "_available_memory", lambda: 8 * 2**30)
    argv = ["train", "--hidden", "100000,100000", "--out", str(tmp_path / "a")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "chainrule: error: this network holds 10,007,600,010 parameters and buffers; training "
        "it takes at least 149.1 GiB (4 float32 copies: weights, gradients and the optimizer's "
        "buffers), but 8.0 GiB of memory is available; choose smaller widths\n"
    )
    assert not (tmp_path / "a").exists()
    monkeypatch.undo()  # this machine's own memory: no machine has 14 TiB to give
    argv = ["train", "--hidden", "1000000,1000000", "--optimizer", "sgd", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    assert "takes at least 7451.1 GiB (2 float32 copies" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options",
    [
        dict(input_shape=(64,), model="mlp", hidden=(32, 16), batchnorm=True, dropout=0.1),
        dict(input_shape=(1, 8, 8), model="mlp", hidden=(5,)),
        dict(input_shape=(1, 8, 8), model="cnn", hidden=(4, 6), batchnorm=True),
        dict(input_shape=(3, 9, 7), model="cnn", hidden=(2,)),
    ],
)
def test_the_size_a_network_is_refused_for_is_its_real_size(options):
    from chainrule.train import recipes

    model = recipes.build_model(outputs=10, **options)
    real = sum(v.numel() for k, v in model.state_dict().items() if "num_batches" not in k)
    with pytest.raises(MemoryError, match=f"this network holds {real:,} parameters and buffers"):
        recipes.build_model(outputs=10, memory=0, **options)
