#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's values for ZooVisionTest's ports of the pytorch/examples vision models.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

The models are the examples' own at the ports' small sizes (models/Zoo*.java). Every parameter, k-th in
named_parameters() order, holds 0.1 * sin(0.37 i + 0.1 k) over its flat index i (buffers keep their defaults); the input
is filled the same way (see CASES). All in float32, then computed in float64 (the exact values of float32's weights, which
a deep stack of instance norms would otherwise blur by 1e-4 in float32, Kiln's and PyTorch's differently). Each case
runs forward in training mode (MNIST's Net in evaluation, its dropouts
off) and back-propagates sum(out * sin(0.71 i + 0.3)) over every output. Lines: ``# keys <case> <key>...`` (the
parameters' names, in order), ``<case>.loss [1] v``, ``<case>.out [shape] values`` for small outputs, and for the
input and each parameter ``<case>.grad.<key> [2] dot norm``: the gradient's sum against cos(0.29 i) and its 2-norm.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def filled(shape, fn, scale, shift):
    n = 1
    for s in shape:
        n *= s
    return fn(torch.arange(n, dtype=torch.float32).reshape(shape) * scale + shift)


class MnistNet(nn.Module):  # mnist/main.py's Net at a quarter of its channels
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(2304, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


class Vae(nn.Module):  # vae/main.py's VAE, 196 -> 32 -> 4, eps given (Kiln's draws: KILN_EPS)
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(196, 32)
        self.fc21 = nn.Linear(32, 4)
        self.fc22 = nn.Linear(32, 4)
        self.fc3 = nn.Linear(4, 32)
        self.fc4 = nn.Linear(32, 196)

    def forward(self, x, eps):
        h1 = F.relu(self.fc1(x.view(-1, 196)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + eps * torch.exp(0.5 * logvar)
        return torch.clamp(torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), min=1e-4, max=1.0 - 1e-4), mu, logvar


NZ, NGF, NDF, NC = 8, 4, 4, 3


class NetG(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 8), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x):
        return self.main(x)


class NetD(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x).view(-1, 1)


class SuperResolution(nn.Module):  # super_resolution/model.py's Net, upscale 3, a quarter of the channels
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 16, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(16, 16, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(16, 8, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(8, 9, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(3)

    def forward(self, x):
        x = self.relu(self.conv3(self.relu(self.conv2(self.relu(self.conv1(x))))))
        return self.pixel_shuffle(self.conv4(x))


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.in2 = nn.InstanceNorm2d(c, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.in2(self.conv2(self.relu(self.in1(self.conv1(x))))) + x


class UpsampleConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):  # fast_neural_style's TransformerNet, an eighth of the channels
    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 4, 9, 1), nn.InstanceNorm2d(4, affine=True)
        self.conv2, self.in2 = ConvLayer(4, 8, 3, 2), nn.InstanceNorm2d(8, affine=True)
        self.conv3, self.in3 = ConvLayer(8, 16, 3, 2), nn.InstanceNorm2d(16, affine=True)
        self.res1, self.res2, self.res3 = ResidualBlock(16), ResidualBlock(16), ResidualBlock(16)
        self.res4, self.res5 = ResidualBlock(16), ResidualBlock(16)
        self.deconv1, self.in4 = UpsampleConvLayer(16, 8, 3, 1, 2), nn.InstanceNorm2d(8, affine=True)
        self.deconv2, self.in5 = UpsampleConvLayer(8, 4, 3, 1, 2), nn.InstanceNorm2d(4, affine=True)
        self.deconv3 = ConvLayer(4, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


# case: (model, input shape, input filling (sin/cos, scale, shift, affine a, b: a * f + b), training)
CASES = {
    "ZooMnistNet": (MnistNet, (2, 1, 28, 28), (torch.cos, 0.13, 0.2, 1.0, 0.0), False),
    "ZooVae": (Vae, (2, 1, 14, 14), (torch.sin, 0.11, 0.4, 0.5, 0.5), True),
    "ZooDcgan.NetG": (NetG, (2, NZ, 1, 1), (torch.cos, 0.13, 0.2, 1.0, 0.0), True),
    "ZooDcgan.NetD": (NetD, (2, NC, 64, 64), (torch.cos, 0.13, 0.2, 1.0, 0.0), True),
    "ZooSuperResolution": (SuperResolution, (2, 1, 8, 8), (torch.cos, 0.13, 0.2, 1.0, 0.0), True),
    "ZooTransformerNet": (TransformerNet, (2, 3, 16, 16), (torch.cos, 0.13, 0.2, 1.0, 0.0), True),
}


def line(key, values, shape):
    return f"{key} [{','.join(str(s) for s in shape)}] " + " ".join(repr(v) for v in values)


def summary(key, grad):
    g = grad.flatten()
    return line(key, [float((g * filled(g.shape, torch.cos, 0.29, 0.0).double()).sum()), float(g.norm())], [2])


# The noise ZooVae's compiled and eager forwardAll draw with Tensor.randnLike(std) after Kiln.manualSeed(31): Kiln's generator
# (SplitMix64, Box-Muller), whose draws are not torch.randn_like's, so the VAE here takes them as given.
KILN_EPS = [-0.14903927, -1.912627, -1.1473496, -0.29896346, -0.63347894, 1.1892233, -0.7538364, -0.6577494]


def main():
    lines = []
    for name, (cls, shape, (fn, scale, shift, a, b), training) in CASES.items():
        model = cls()
        params = list(model.named_parameters())
        with torch.no_grad():
            for k, (_, p) in enumerate(params):
                p.copy_(0.1 * filled(p.shape, torch.sin, 0.37, 0.1 * k))
        model.train(training)
        model.double()
        x = (a * filled(shape, fn, scale, shift) + b).double().requires_grad_(True)
        outs = model(x, torch.tensor(KILN_EPS).view(2, 4).double()) if name == "ZooVae" else (model(x),)
        loss = sum((o * filled(o.shape, torch.sin, 0.71, 0.3).double()).sum() for o in outs)
        loss.backward()
        lines.append("# keys " + name + " " + " ".join(k for k, _ in params))
        lines.append(line(name + ".loss", [float(loss)], [1]))
        for i, o in enumerate(outs):
            if o.numel() <= 512:
                lines.append(line(name + ".out" + str(i), o.detach().flatten().tolist(), o.shape))
        lines.append(summary(name + ".grad.input", x.grad))
        for key, p in params:
            lines.append(summary(name + ".grad." + key, p.grad))
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
