"""The main job: train a small CNN on handwritten digits, evaluate, save a checkpoint.

    python -m ardor.examples.train                     # bundled digits, 3 epochs, offline
    python -m ardor.examples.train --data mnist --root ~/data   # real MNIST IDX files
    python -m ardor.examples.train --resume runs/digits_cnn.pt --epochs 5

Written against the PyTorch API only: ``import ardor as torch`` is the one ardor-specific line.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np

import ardor as torch
from ardor import nn
from ardor.utils.data import DataLoader
from ardor.utils.training import load_training_state, save_training_state
from ardor.vision import datasets, transforms


class DigitsCNN(nn.Module):
    """conv(1->16)-relu-pool-conv(16->32)-relu-pool-linear(1568->64)-relu-linear(64->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(),
                                        nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train a small CNN on handwritten digits.")
    p.add_argument("--data", choices=["digits", "mnist"], default="digits",
                   help="digits: the bundled 10k/2k MNIST subset (offline); mnist: IDX files")
    p.add_argument("--root", default="data", help="folder holding MNIST/raw (with --data mnist)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="folder for the checkpoint")
    p.add_argument("--resume", default=None, help="checkpoint to continue training from")
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N training images (quick runs)")
    p.add_argument("--no-progress", action="store_true", help="plain lines instead of tqdm")
    return p.parse_args(argv)


def _progress(iterable, total, desc, enabled):
    if enabled:
        try:
            from tqdm import tqdm
            return tqdm(iterable, total=total, desc=desc, leave=True, dynamic_ncols=True)
        except ImportError:
            pass
    return iterable


def make_loaders(args):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    if args.data == "digits":
        train, test = datasets.Digits(True, transform=tf), datasets.Digits(False, transform=tf)
    else:
        train = datasets.MNIST(args.root, train=True, transform=tf)
        test = datasets.MNIST(args.root, train=False, transform=tf)
    if args.limit:
        train = torch.utils.data.Subset(train, range(min(args.limit, len(train))))
    train_dl = DataLoader(train, batch_size=args.batch_size, shuffle=True,
                          num_workers=args.workers)
    test_dl = DataLoader(test, batch_size=500, num_workers=args.workers)
    return train_dl, test_dl


def evaluate(model, loader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.shape[0]
    model.train()
    return correct / total


def main(argv=None) -> float:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)
    model = DigitsCNN()
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)}[args.optimizer]
    optimizer = opt_cls(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    loss_fn = nn.CrossEntropyLoss()
    start_epoch = 0
    if args.resume:
        info = load_training_state(args.resume, model=model, optimizer=optimizer,
                                   scheduler=scheduler)
        start_epoch = info["epoch"]
        print(f"resumed from {args.resume} at epoch {start_epoch}")
    train_dl, test_dl = make_loaders(args)
    show = not args.no_progress and sys.stderr.isatty()
    t0 = time.time()
    for epoch in range(start_epoch, args.epochs):
        running = correct = seen = 0
        bar = _progress(train_dl, len(train_dl), f"epoch {epoch + 1}/{args.epochs}", show)
        for x, y in bar:
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n = y.shape[0]
            running += loss.item() * n
            correct += (logits.argmax(1) == y).sum().item()
            seen += n
            if show:
                bar.set_postfix(loss=f"{running / seen:.4f}", acc=f"{correct / seen:.3f}")
        scheduler.step()
        print(f"epoch {epoch + 1}/{args.epochs}  loss {running / seen:.4f}  "
              f"train acc {correct / seen:.4f}  ({time.time() - t0:.1f}s)", flush=True)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "digits_cnn.pt")
        save_training_state(path, model=model, optimizer=optimizer, scheduler=scheduler,
                            epoch=epoch + 1, extra={"args": vars(args)})
    acc = evaluate(model, test_dl)
    print(f"test accuracy {acc:.4f} on {len(test_dl.dataset)} held-out images "
          f"({time.time() - t0:.1f}s)")
    if args.epochs > start_epoch:
        print(f"checkpoint (model + optimizer + scheduler + RNG states) saved to "
              f"{os.path.join(args.out, 'digits_cnn.pt')}")
    return acc


if __name__ == "__main__":
    main()
