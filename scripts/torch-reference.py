#!/usr/bin/env python3
"""Trains the TinyML course's Fashion-MNIST dense models the way Keras trains them, in PyTorch.

A reference for `tinyml train`: same data (the IDX files, .gz or raw), same networks
(Flatten -> Dense(h, relu)... -> Dense(10, softmax)), and Keras's defaults, written out:
glorot-uniform kernels, zero biases, the loss taken from the logits (sparse softmax
cross-entropy, which Keras uses when the last layer is a softmax), Keras's Adam
(lr 1e-3, beta 0.9/0.999, epsilon 1e-7 added to sqrt(v)), batch 32, a fresh shuffle
every epoch, and accuracy as Keras logs it (the running mean over the epoch).

Stages (the course exercise): base [20]; wide [1024]; deep [512, 512]; unnormalized
(deep on raw 0..255 pixels); early-stop (deep, stops at the end of an epoch, the
2nd or later, whose training accuracy is above 0.86). One JSON object per stage on
stdout: per epoch the train loss/accuracy, the test accuracy, the seconds (wall)
and the process CPU seconds (both threads).

Runs offline with the Debian python3-torch. For fair timings run it as
  MALLOC_MMAP_THRESHOLD_=1073741824 python3 scripts/torch-reference.py
(glibc otherwise maps and zero-fills the per-step buffers, 4-5x slower) with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import torch

STAGES = {
    'base': {'hidden': [20], 'normalize': True, 'stop_at': None},
    'wide': {'hidden': [1024], 'normalize': True, 'stop_at': None},
    'deep': {'hidden': [512, 512], 'normalize': True, 'stop_at': None},
    'unnormalized': {'hidden': [512, 512], 'normalize': False, 'stop_at': None},
    'early-stop': {'hidden': [512, 512], 'normalize': True, 'stop_at': 0.86},
}

FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def read_idx(data_dir, base, magic):
    for name in (base, base + '.gz'):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            with (gzip.open(path, 'rb') if name.endswith('.gz') else open(path, 'rb')) as f:
                raw = f.read()
            (got,) = struct.unpack('>I', raw[:4])
            if got != magic:
                sys.exit(f'error: {path}: not an IDX file (magic {got:#x}, expected {magic:#x})')
            dims = struct.unpack('>' + 'I' * (magic & 0xFF), raw[4:4 + 4 * (magic & 0xFF)])
            data = torch.frombuffer(bytearray(raw[4 + 4 * len(dims):]), dtype=torch.uint8)
            return data.reshape(*dims)
    sys.exit(f'error: {os.path.join(data_dir, base)}[.gz] not found: pass --data-dir with the four Fashion-MNIST IDX files')


def load(data_dir, split, limit):
    images_name, labels_name = FILES[split]
    images = read_idx(data_dir, images_name, 0x803)
    labels = read_idx(data_dir, labels_name, 0x801)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return images.reshape(images.shape[0], -1), labels.long()


def build(hidden, generator):
    sizes = [784, *hidden, 10]
    layers = []
    for i in range(len(sizes) - 1):
        linear = torch.nn.Linear(sizes[i], sizes[i + 1])
        limit = math.sqrt(6.0 / (sizes[i] + sizes[i + 1]))  # glorot-uniform
        with torch.no_grad():
            linear.weight.uniform_(-limit, limit, generator=generator)
            linear.bias.zero_()
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)  # emits logits; the softmax lives in the loss


class KerasAdam:
    """Keras's Adam: w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7):
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.epsilon = lr, beta1, beta2, epsilon
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    @torch.no_grad()
    def step(self):
        self.t += 1
        alpha = self.lr * math.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            p.addcdiv_(m, v.sqrt().add_(self.epsilon), value=-alpha)


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def run_stage(name, cfg, train, test, args):
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    model = build(cfg['hidden'], generator)
    opt = KerasAdam(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    scale = 255.0 if cfg['normalize'] else 1.0
    x_train = train[0].float() / scale
    x_test = test[0].float() / scale
    y_train, y_test = train[1], test[1]
    n = x_train.shape[0]
    epochs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        c0 = time.process_time()
        order = torch.randperm(n, generator=generator)
        loss_sum = 0.0
        correct = 0
        for start in range(0, n, args.batch_size):
            idx = order[start:start + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            for p in model.parameters():
                p.grad = None
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        seconds = time.perf_counter() - t0
        cpu_seconds = time.process_time() - c0
        train_acc = correct / n
        epochs.append({
            'epoch': epoch, 'loss': loss_sum / n, 'accuracy': train_acc,
            'testAccuracy': accuracy(model, x_test, y_test), 'seconds': round(seconds, 3),
            'cpuSeconds': round(cpu_seconds, 3),
        })
        if cfg['stop_at'] is not None and epoch >= 2 and train_acc > cfg['stop_at']:
            break
    return {
        'stage': name, 'hidden': cfg['hidden'], 'normalized': cfg['normalize'], 'seed': args.seed,
        'epochsRun': len(epochs), 'epochs': epochs,
        'trainAccuracy': epochs[-1]['accuracy'], 'testAccuracy': epochs[-1]['testAccuracy'],
        'secondsPerEpoch': round(sum(e['seconds'] for e in epochs) / len(epochs), 3),
        'threads': torch.get_num_threads(), 'torch': torch.__version__,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-dir', default='/usr/share/datasets/fashion-mnist')
    p.add_argument('--stages', default=','.join(STAGES), help='comma list of: ' + ', '.join(STAGES))
    p.add_argument('--hidden', help='train one model with these hidden sizes (e.g. 128 or 512,512) instead of the stages')
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--limit-train', type=int, default=0)
    p.add_argument('--limit-test', type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.hidden:
        try:
            hidden = [int(h) for h in args.hidden.split(',')]
        except ValueError:
            sys.exit(f"error: --hidden '{args.hidden}': expected comma-separated layer sizes such as 128 or 512,512")
        stages = {'h' + '-'.join(map(str, hidden)): {'hidden': hidden, 'normalize': True, 'stop_at': None}}
    else:
        names = [s for s in args.stages.split(',') if s]
        unknown = [s for s in names if s not in STAGES]
        if unknown:
            sys.exit(f"error: unknown stage '{unknown[0]}': use one of {', '.join(STAGES)}")
        stages = {s: STAGES[s] for s in names}
    train = load(args.data_dir, 'train', args.limit_train)
    test = load(args.data_dir, 'test', args.limit_test)
    for name, cfg in stages.items():
        print(json.dumps(run_stage(name, cfg, train, test, args)), flush=True)


if __name__ == '__main__':
    main()
