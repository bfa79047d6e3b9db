#!/usr/bin/env python3
"""One epoch of fine-tuning in torch (Debian python3-torch, CPU), the same
work edgeprune's `finetune --epochs 1` does: LeNet-300-100 or Caffe LeNet-5
(the architectures of ../shared/models/mnist), SGD momentum 0.9, weight decay
1e-4, cross-entropy, mini-batches of BATCH shuffled from mnist_train.npz,
the last partial batch dropped. Prints JSON: seconds, samples/s, loss.

Usage: train_epoch_torch.py lenet300|lenet5 MNIST_TRAIN.npz THREADS BATCH
"""
import json, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

name, path, threads, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)


class LeNet300(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.fc1, self.fc2 = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.c1(x), 2)
        x = F.max_pool2d(self.c2(x), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


model = {"lenet300": LeNet300, "lenet5": LeNet5}[name]()
z = np.load(path)
x = torch.from_numpy(z["input"] if "input" in z.files else z[[k for k in z.files if k != "labels"][0]])
y = torch.from_numpy(z["labels"])
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
model.train()
perm = torch.randperm(len(y))
steps = len(y) // batch
t0 = time.perf_counter()
total = 0.0
for s in range(steps):
    idx = perm[s * batch:(s + 1) * batch]
    opt.zero_grad()
    loss = F.cross_entropy(model(x[idx]), y[idx])
    loss.backward()
    opt.step()
    total += loss.item()
sec = time.perf_counter() - t0
print(json.dumps({"seconds": sec, "samples_per_sec": steps * batch / sec, "loss": total / steps}))
