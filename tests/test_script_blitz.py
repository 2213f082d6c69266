"""The two autograd and network scripts of PyTorch's 60-minute blitz print PyTorch's numbers.

From ``pytorch/tutorials``, ``beginner_source/blitz/``: ``autograd_tutorial.py`` and
``neural_networks_tutorial.py``, with ``torch`` read as ``L`` and ``print`` as the
harness's, the random draws overwritten with the test's numbers as the script makes them
(``tests/script_parity.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from script_parity import assert_same_text, both_print, overwrite, set_parameters


def test_autograd_tutorial_of_the_blitz():
    # beginner_source/blitz/autograd_tutorial.py
    def program(L, print):
        rng = np.random.default_rng(7)
        x = L.ones(2, 2, requires_grad=True)
        print(x)
        y = x + 2
        print(y)
        print(y.grad_fn)
        z = y * y * 3
        out = z.mean()
        print(z, out)

        a = L.randn(2, 2)
        overwrite(L, a, rng.standard_normal((2, 2)))
        a = (a * 3) / (a - 1)
        print(a.requires_grad)
        a.requires_grad_(True)
        print(a.requires_grad)
        b = (a * a).sum()
        print(b.grad_fn)

        out.backward()
        print(x.grad)

        x = L.randn(3, requires_grad=True)
        overwrite(L, x, rng.standard_normal(3))
        y = x * 2
        while y.data.norm() < 1000:
            y = y * 2
        print(y)
        gradients = L.tensor([0.1, 1.0, 0.0001], dtype=L.float)
        y.backward(gradients)
        print(x.grad)

        print(x.requires_grad)
        print((x**2).requires_grad)
        with L.no_grad():
            print((x**2).requires_grad)

    ours, theirs = both_print(program)
    # Every node here is one of PyTorch's, so the names are compared too.
    assert_same_text(ours, theirs, grad_fn=True)


@pytest.mark.parametrize("target", ["arange", "randn"])
def test_neural_networks_tutorial(target):
    # beginner_source/blitz/neural_networks_tutorial.py. Older versions of the script
    # compare the output with torch.arange(1, 11), an int64 target that MSELoss promotes;
    # the current one with torch.randn(10).
    def program(L, print):
        nn = L.nn
        F = L.nn.functional
        optim = L.optim
        rng = np.random.default_rng(8)

        class Net(nn.Module):
            def __init__(self):
                super(Net, self).__init__()
                # 1 input image channel, 6 output channels, 5x5 square convolution
                self.conv1 = nn.Conv2d(1, 6, 5)
                self.conv2 = nn.Conv2d(6, 16, 5)
                self.fc1 = nn.Linear(16 * 5 * 5, 120)
                self.fc2 = nn.Linear(120, 84)
                self.fc3 = nn.Linear(84, 10)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                x = x.view(-1, self.num_flat_features(x))
                x = F.relu(self.fc1(x))
                x = F.relu(self.fc2(x))
                x = self.fc3(x)
                return x

            def num_flat_features(self, x):
                size = x.size()[1:]  # all dimensions except the batch dimension
                num_features = 1
                for s in size:
                    num_features *= s
                return num_features

        net = Net()
        set_parameters(L, net, seed=8)
        print(net)
        params = list(net.parameters())
        print(len(params))
        print(params[0].size())  # conv1's .weight

        input = L.randn(1, 1, 32, 32)
        overwrite(L, input, rng.standard_normal((1, 1, 32, 32)))
        out = net(input)
        print(out)
        net.zero_grad()
        upstream = L.randn(1, 10)
        overwrite(L, upstream, rng.standard_normal((1, 10)))
        out.backward(upstream)
        print(net.conv1.bias.grad)

        output = net(input)
        if target == "arange":
            target_ = L.arange(1, 11)  # a dummy target, for example
        else:
            target_ = L.randn(10)
            overwrite(L, target_, rng.standard_normal(10))
        target_ = target_.view(1, -1)  # make it the same shape as output
        criterion = nn.MSELoss()
        loss = criterion(output, target_)
        print(loss)
        print(loss.grad_fn)  # MSELoss
        print(loss.grad_fn.next_functions[0][0])  # Linear
        print(loss.grad_fn.next_functions[0][0].next_functions[0][0])  # ReLU

        net.zero_grad()  # zeroes the gradient buffers of all parameters
        print("conv1.bias.grad before backward")
        print(net.conv1.bias.grad)
        loss.backward()
        print("conv1.bias.grad after backward")
        print(net.conv1.bias.grad)

        learning_rate = 0.01
        for f in net.parameters():
            f.data.sub_(f.grad.data * learning_rate)

        optimizer = optim.SGD(net.parameters(), lr=0.01)
        optimizer.zero_grad()  # zero the gradient buffers
        output = net(input)
        loss = criterion(output, target_)
        loss.backward()
        optimizer.step()  # Does the update
        print(loss, net(input))

    ours, theirs = both_print(program)
    assert_same_text(ours, theirs, atol=1e-6)
