"""The "Learn the Basics" scripts of PyTorch's tutorials print PyTorch's numbers.

From ``pytorch/tutorials``, ``beginner_source/basics/``: ``tensorqs_tutorial.py``,
``autogradqs_tutorial.py``, ``buildmodel_tutorial.py`` and ``optimization_tutorial.py``.
Each program below is the script's code with ``torch`` read as ``L`` (chainrule, then
torch) and ``print`` as the harness's; the random draws are overwritten with the test's
numbers right after the script makes them, and FashionMNIST is generated data of its
shape (``tests/script_parity.py``). Both printouts must agree to float32 rounding.
"""

from __future__ import annotations

import numpy as np

from script_parity import assert_same_text, both_print, image_dataset, overwrite, set_parameters


def test_tensors_tutorial():
    # beginner_source/basics/tensorqs_tutorial.py
    def program(L, print):
        rng = np.random.default_rng(1)
        data = [[1, 2], [3, 4]]
        x_data = L.tensor(data)
        np_array = np.array(data)
        x_np = L.from_numpy(np_array)
        print(x_np)
        x_ones = L.ones_like(x_data)  # retains the properties of x_data
        print(f"Ones Tensor: \n {x_ones} \n")
        x_rand = L.rand_like(x_data, dtype=L.float)  # overrides the datatype of x_data
        overwrite(L, x_rand, rng.random((2, 2)))
        print(f"Random Tensor: \n {x_rand} \n")

        shape = (2, 3)
        rand_tensor = L.rand(shape)
        overwrite(L, rand_tensor, rng.random(shape))
        ones_tensor = L.ones(shape)
        zeros_tensor = L.zeros(shape)
        print(f"Random Tensor: \n {rand_tensor} \n")
        print(f"Ones Tensor: \n {ones_tensor} \n")
        print(f"Zeros Tensor: \n {zeros_tensor}")

        tensor = L.rand(3, 4)
        print(f"Shape of tensor: {tensor.shape}")
        print(f"Datatype of tensor: {tensor.dtype}")
        print(f"Device tensor is stored on: {tensor.device}")
        if L.cuda.is_available() & (L.device("cuda").index is not None):
            tensor = tensor.to("cuda")

        tensor = L.ones(4, 4)
        print("First row: ", tensor[0])
        print("First column: ", tensor[:, 0])
        print("Last column:", tensor[..., -1])
        tensor[:, 1] = 0
        print(tensor)
        t1 = L.cat([tensor, tensor, tensor], dim=1)
        print(t1)

        y1 = tensor @ tensor.T
        y2 = tensor.matmul(tensor.T)
        y3 = L.rand_like(tensor)
        L.matmul(tensor, tensor.T, out=y3)
        z1 = tensor * tensor
        z2 = tensor.mul(tensor)
        z3 = L.rand_like(tensor)
        L.mul(tensor, tensor, out=z3)
        print(y1, y2, y3, z1, z2, z3)  # (the tutorial says they agree; here they print)

        agg = tensor.sum()
        agg_item = agg.item()
        print(agg_item, type(agg_item))
        print(tensor, "\n")
        tensor.add_(5)
        print(tensor)

        t = L.ones(5)
        print(f"t: {t}")
        n = t.numpy()
        print(f"n: {n}")
        t.add_(1)
        print(f"t: {t}")
        print(f"n: {n}")
        n = np.ones(5)
        t = L.from_numpy(n)
        np.add(n, 1, out=n)
        print(f"t: {t}")
        print(f"n: {n}")

    ours, theirs = both_print(program)
    assert_same_text(ours, theirs)
    assert "t: tensor([2., 2., 2., 2., 2.], dtype=cr.float64)" in ours  # memory is shared


def test_autograd_tutorial_of_the_basics():
    # beginner_source/basics/autogradqs_tutorial.py
    def program(L, print):
        rng = np.random.default_rng(2)
        x = L.ones(5)  # input tensor
        y = L.zeros(3)  # expected output
        w = L.randn(5, 3, requires_grad=True)
        b = L.randn(3, requires_grad=True)
        overwrite(L, w, rng.standard_normal((5, 3)))
        overwrite(L, b, rng.standard_normal(3))
        z = L.matmul(x, w) + b
        loss = L.nn.functional.binary_cross_entropy_with_logits(z, y)
        print(f"Gradient function for z = {z.grad_fn}")
        print(f"Gradient function for loss = {loss.grad_fn}")
        loss.backward()
        print(w.grad)
        print(b.grad)

        z = L.matmul(x, w) + b
        print(z.requires_grad)
        with L.no_grad():
            z = L.matmul(x, w) + b
        print(z.requires_grad)
        z = L.matmul(x, w) + b
        z_det = z.detach()
        print(z_det.requires_grad)

        inp = L.eye(4, 5, requires_grad=True)
        out = (inp + 1).pow(2).t()
        out.backward(L.ones_like(out), retain_graph=True)
        print(f"First call\n{inp.grad}")
        out.backward(L.ones_like(out), retain_graph=True)
        print(f"\nSecond call\n{inp.grad}")
        inp.grad.zero_()
        out.backward(L.ones_like(out), retain_graph=True)
        print(f"\nCall after zeroing gradients\n{inp.grad}")
        print(loss)

    ours, theirs = both_print(program)
    assert_same_text(ours, theirs)
    # z's node is PyTorch's; the loss's is the last step of chainrule's composition
    # (docs/pytorch.md), so only the first line is compared with its name.
    assert_same_text(ours.splitlines()[0], theirs.splitlines()[0], grad_fn=True)


def _fashion_model(nn, last_relu: bool):
    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            layers = [nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU()]
            layers += [nn.Linear(512, 10)] + ([nn.ReLU()] if last_relu else [])
            self.linear_relu_stack = nn.Sequential(*layers)

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    return NeuralNetwork()


def test_build_model_tutorial():
    # beginner_source/basics/buildmodel_tutorial.py (the class is written out in
    # _fashion_model: one version of the script ends the stack with a ReLU, the
    # optimization tutorial's does not)
    def program(L, print):
        nn = L.nn
        rng = np.random.default_rng(3)
        device = "cuda" if L.cuda.is_available() else "cpu"
        print("Using {} device".format(device))
        model = _fashion_model(nn, last_relu=True).to(device)
        set_parameters(L, model, seed=3)
        print(model)

        X = L.rand(1, 28, 28, device=device)
        overwrite(L, X, rng.random((1, 28, 28)))
        logits = model(X)
        pred_probab = nn.Softmax(dim=1)(logits)
        y_pred = pred_probab.argmax(1)
        print(f"Predicted class: {y_pred}")
        print(pred_probab)

        input_image = L.rand(3, 28, 28)
        overwrite(L, input_image, rng.random((3, 28, 28)))
        print(input_image.size())
        flatten = nn.Flatten()
        flat_image = flatten(input_image)
        print(flat_image.size())
        layer1 = nn.Linear(in_features=28 * 28, out_features=20)
        set_parameters(L, layer1, seed=4)
        hidden1 = layer1(flat_image)
        print(hidden1.size())
        print(f"Before ReLU: {hidden1}\n\n")
        hidden1 = nn.ReLU()(hidden1)
        print(f"After ReLU: {hidden1}")

        seq_modules = nn.Sequential(flatten, layer1, nn.ReLU(), nn.Linear(20, 10))
        set_parameters(L, seq_modules[3], seed=5)
        input_image = L.rand(3, 28, 28)
        overwrite(L, input_image, rng.random((3, 28, 28)))
        logits = seq_modules(input_image)
        softmax = nn.Softmax(dim=1)
        pred_probab = softmax(logits)
        print(pred_probab)

        print("Model structure: ", model, "\n\n")
        for name, param in model.named_parameters():
            print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")

    ours, theirs = both_print(program)
    # A unit of the hidden layer is a sum of 784 products of size 0.02 that can cancel to
    # 1e-4: its float32 rounding is absolute, about 1e-7, not relative.
    assert_same_text(ours, theirs, atol=1e-6)


def test_optimization_tutorial():
    # beginner_source/basics/optimization_tutorial.py, on 640 training and 192 test
    # images (FashionMNIST has 60000 and 10000) for 2 epochs (the script runs 10).
    def program(L, print):
        nn = L.nn
        DataLoader = L.utils.data.DataLoader
        training_data = image_dataset(L, 640, (1, 28, 28), seed=0)
        test_data = image_dataset(L, 192, (1, 28, 28), seed=1)
        train_dataloader = DataLoader(training_data, batch_size=64)
        test_dataloader = DataLoader(test_data, batch_size=64)
        model = _fashion_model(nn, last_relu=False)
        set_parameters(L, model, seed=6)

        learning_rate = 1e-3
        batch_size = 64

        def train_loop(dataloader, model, loss_fn, optimizer):
            size = len(dataloader.dataset)
            model.train()
            for batch, (X, y) in enumerate(dataloader):
                pred = model(X)
                loss = loss_fn(pred, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if batch % 3 == 0:  # the script prints every 100th of its 938 batches
                    loss, current = loss.item(), batch * batch_size + len(X)
                    print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

        def test_loop(dataloader, model, loss_fn):
            model.eval()
            size = len(dataloader.dataset)
            num_batches = len(dataloader)
            test_loss, correct = 0, 0
            with L.no_grad():
                for X, y in dataloader:
                    pred = model(X)
                    test_loss += loss_fn(pred, y).item()
                    correct += (pred.argmax(1) == y).type(L.float).sum().item()
            test_loss /= num_batches
            correct /= size
            print(
                f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n"
            )

        loss_fn = nn.CrossEntropyLoss()
        optimizer = L.optim.SGD(model.parameters(), lr=learning_rate)
        epochs = 2
        for t in range(epochs):
            print(f"Epoch {t + 1}\n-------------------------------")
            train_loop(train_dataloader, model, loss_fn, optimizer)
            test_loop(test_dataloader, model, loss_fn)
        print("Done!")

    ours, theirs = both_print(program)
    assert_same_text(ours, theirs)
    assert ours.count("\nloss: ") == 8
    # SGD at 1e-3 moves slowly; the test loss still falls from one epoch to the next.
    test_losses = [float(line.split()[-1]) for line in ours.splitlines() if "Avg loss" in line]
    assert len(test_losses) == 2 and test_losses[1] < test_losses[0]
