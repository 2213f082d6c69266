"""Two scripts of ``pytorch/examples`` print PyTorch's numbers: ``mnist/main.py`` and
``regression/main.py``, with ``torch`` read as ``L`` and ``print`` as the harness's, MNIST
replaced by generated images of its shape and the random draws overwritten with the
test's numbers as the script makes them (``tests/script_parity.py``). Also the legacy
``torch.autograd.Variable`` that older versions of these scripts wrap their data in.
"""

from __future__ import annotations

import argparse
import warnings
from itertools import count

import numpy as np
import pytest
import torch

import chainrule as cr
from script_parity import (
    assert_same_text,
    both_print,
    image_dataset,
    overwrite,
    set_parameters,
)


def _replayed_dropout(L, seed: int):
    """A Dropout whose masks come from one NumPy stream, the same in both libraries
    (each library's own Dropout draws from its own generator). Like PyTorch's, it
    multiplies by the mask scaled by 1/(1-p)."""
    rng = np.random.default_rng(seed)

    class Dropout(L.nn.Dropout):
        def forward(self, input):
            if not self.training or self.p == 0:
                return input
            keep = rng.random(tuple(input.shape)) >= self.p
            return input * L.tensor((keep / (1 - self.p)).astype(np.float32))

    return Dropout


def test_mnist_example():
    # pytorch/examples mnist/main.py, on 16 training and 8 test images (MNIST has 60000
    # and 10000) in batches of 8, for 2 epochs; the arguments are its defaults otherwise.
    def program(L, print):
        nn = L.nn
        F = L.nn.functional
        optim = L.optim
        StepLR = L.optim.lr_scheduler.StepLR

        class Net(nn.Module):
            def __init__(self):
                super(Net, self).__init__()
                self.conv1 = nn.Conv2d(1, 32, 3, 1)
                self.conv2 = nn.Conv2d(32, 64, 3, 1)
                self.dropout1 = nn.Dropout(0.25)
                self.dropout2 = nn.Dropout(0.5)
                self.fc1 = nn.Linear(9216, 128)
                self.fc2 = nn.Linear(128, 10)

            def forward(self, x):
                x = self.conv1(x)
                x = F.relu(x)
                x = self.conv2(x)
                x = F.relu(x)
                x = F.max_pool2d(x, 2)
                x = self.dropout1(x)
                x = L.flatten(x, 1)
                x = self.fc1(x)
                x = F.relu(x)
                x = self.dropout2(x)
                x = self.fc2(x)
                output = F.log_softmax(x, dim=1)
                return output

        def train(args, model, device, train_loader, optimizer, epoch):
            model.train()
            for batch_idx, (data, target) in enumerate(train_loader):
                data, target = data.to(device), target.to(device)
                optimizer.zero_grad()
                output = model(data)
                loss = F.nll_loss(output, target)
                loss.backward()
                optimizer.step()
                if batch_idx % args.log_interval == 0:
                    print(
                        "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                            epoch,
                            batch_idx * len(data),
                            len(train_loader.dataset),
                            100.0 * batch_idx / len(train_loader),
                            loss.item(),
                        )
                    )
                    if args.dry_run:
                        break

        def test(model, device, test_loader):
            model.eval()
            test_loss = 0
            correct = 0
            with L.no_grad():
                for data, target in test_loader:
                    data, target = data.to(device), target.to(device)
                    output = model(data)
                    test_loss += F.nll_loss(output, target, reduction="sum").item()
                    pred = output.argmax(dim=1, keepdim=True)
                    correct += pred.eq(target.view_as(pred)).sum().item()
            test_loss /= len(test_loader.dataset)
            print(
                "\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n".format(
                    test_loss,
                    correct,
                    len(test_loader.dataset),
                    100.0 * correct / len(test_loader.dataset),
                )
            )

        args = argparse.Namespace(
            batch_size=8, test_batch_size=16, epochs=2, lr=1.0, gamma=0.7, no_accel=False,
            dry_run=False, seed=1, log_interval=1, save_model=False,
        )  # fmt: skip
        use_accel = not args.no_accel and L.accelerator.is_available()
        L.manual_seed(args.seed)
        if use_accel:
            device = L.accelerator.current_accelerator()
        else:
            device = L.device("cpu")
        print(f"Using {device} device")
        use_mps = L.backends.mps.is_available()
        print(use_mps)

        train_kwargs = {"batch_size": args.batch_size}
        test_kwargs = {"batch_size": args.test_batch_size}
        if use_accel:
            accel_kwargs = {"num_workers": 1, "persistent_workers": True, "pin_memory": True}
            train_kwargs.update(accel_kwargs)
            test_kwargs.update(accel_kwargs)
        normalize = (0.1307, 0.3081)  # transforms.Normalize((0.1307,), (0.3081,))
        dataset1 = image_dataset(L, 16, (1, 28, 28), seed=10, normalize=normalize)
        dataset2 = image_dataset(L, 8, (1, 28, 28), seed=11, normalize=normalize)
        train_loader = L.utils.data.DataLoader(dataset1, **train_kwargs)
        test_loader = L.utils.data.DataLoader(dataset2, **test_kwargs)

        model = Net().to(device)
        set_parameters(L, model, seed=12)
        Dropout = _replayed_dropout(L, seed=13)
        model.dropout1.__class__ = model.dropout2.__class__ = Dropout
        print(model)
        optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
        scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
        for epoch in range(1, args.epochs + 1):
            train(args, model, device, train_loader, optimizer, epoch)
            test(model, device, test_loader)
            scheduler.step()
            print(scheduler.get_last_lr())
        if args.save_model:
            L.save(model.state_dict(), "mnist_cnn.pt")

    ours, theirs = both_print(program)
    assert_same_text(ours, theirs, rtol=1e-4)
    assert "Dropout(p=0.25, inplace=False)" in ours


@pytest.mark.parametrize(
    ("version", "dtype"), [("current", "float64"), ("variable", "float64"), ("current", "float32")]
)
def test_regression_example(version, dtype):
    # pytorch/examples regression/main.py, as it is now (``output.item()``) and in its
    # Variable-era form (``Variable(x)``, ``.data``). The script draws each batch from
    # torch.randn until the loss falls below 1e-3; the test draws the same batches.
    # With x^4 among the features and a step of 0.1 the updates amplify any difference:
    # two float64 runs that differ in the last bit drift apart by 1e-4 within 450 steps,
    # float32 runs by 1e-3 after 175. So the whole script runs in float64 (its default
    # dtype set first), and in float32 the first 150 batches.
    def program(L, print):
        F = L.nn.functional
        Variable = L.autograd.Variable
        rng = np.random.default_rng(20)
        L.set_default_dtype(getattr(L, dtype))
        stop = 150 if dtype == "float32" else None

        POLY_DEGREE = 4
        draw = L.randn(POLY_DEGREE, 1)
        overwrite(L, draw, rng.standard_normal((POLY_DEGREE, 1)))
        W_target = draw * 5
        draw = L.randn(1)
        overwrite(L, draw, rng.standard_normal(1))
        b_target = draw * 5

        def make_features(x):
            """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
            x = x.unsqueeze(1)
            return L.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)

        def f(x):
            """Approximated function."""
            return x.mm(W_target) + b_target.item()

        def poly_desc(W, b):
            """Creates a string description of a polynomial."""
            result = "y = "
            for i, w in enumerate(W):
                result += "{:+.2f} x^{} ".format(w, i + 1)
            result += "{:+.2f}".format(b[0])
            return result

        def get_batch(batch_size=32):
            """Builds a batch i.e. (x, f(x)) pair."""
            random = L.randn(batch_size)
            overwrite(L, random, rng.standard_normal(batch_size))
            x = make_features(random)
            y = f(x)
            if version == "variable":
                return Variable(x), Variable(y)
            return x, y

        fc = L.nn.Linear(W_target.size(0), 1)
        set_parameters(L, fc, seed=21)
        for batch_idx in count(1):
            batch_x, batch_y = get_batch()
            fc.zero_grad()
            output = F.smooth_l1_loss(fc(batch_x), batch_y)
            loss = output.item()
            output.backward()
            for param in fc.parameters():
                if version == "variable":
                    param.data.add_(-0.1 * param.grad.data)
                else:
                    param.data.add_(-0.1 * param.grad)
            if loss < 1e-3 or batch_idx == stop:
                break
        print("Loss: {:.6f} after {} batches".format(loss, batch_idx))
        print("==> Learned function:\t" + poly_desc(fc.weight.view(-1), fc.bias))
        print("==> Actual function:\t" + poly_desc(W_target.view(-1), b_target))

    try:
        ours, theirs = both_print(program)
    finally:
        torch.set_default_dtype(torch.float32)  # (chainrule's is reset by conftest.py)
    assert_same_text(ours, theirs, rtol=1e-5 if dtype == "float32" else 1e-9)
    batches = int(ours.split(" after ")[1].split()[0])
    assert batches == 150 if dtype == "float32" else 10 < batches < 10000


def test_a_parameter_updated_in_place_outside_no_grad_raises_in_both():
    # One version of regression/main.py writes ``param.add_(-0.1 * param.grad)``; PyTorch
    # refuses an in-place update of a leaf that requires grad, and so does chainrule.
    for L in (cr, torch):
        fc = L.nn.Linear(4, 1)
        fc(L.ones(2, 4)).sum().backward()
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            fc.weight.add_(-0.1 * fc.weight.grad)


def test_variable_is_a_detached_leaf_as_in_pytorch():
    for L in (cr, torch):
        Variable = L.autograd.Variable
        base = L.ones(3)
        v = Variable(base)
        assert v is not base and isinstance(base, Variable) and isinstance(v, L.Tensor)
        assert not v.requires_grad and v.is_leaf
        w = Variable(base, requires_grad=True)
        assert w.requires_grad and w.is_leaf and not base.requires_grad
        with L.no_grad():
            w.mul_(2)  # shares memory with base
        assert base.tolist() == [2.0, 2.0, 2.0]
        tracked = L.ones(2, requires_grad=True) * 3
        assert Variable(tracked).grad_fn is None and not Variable(tracked).requires_grad
        assert tuple(Variable().shape) == (0,)
        assert not isinstance([1.0], Variable)
        with pytest.raises(TypeError, match="Variable data has to be a tensor"):
            Variable([1.0, 2.0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Variable(base, volatile=True)
        assert any("volatile" in str(w.message) for w in caught)
