"""PyTorch nn.LSTM with packed sequences (the idiomatic way to skip padding in PyTorch).

Same model as the others: LSTM(U) over the valid steps, h at the last valid step -> Linear(2)
-> sigmoid, BCELoss, Adam(lr=1e-3, eps=1e-7); batches reshuffled every epoch; the last batch
is partial.
"""

import time

from benchmarks.common import Clock, Result, make_data, median_rate, peak_rss_mb, peer_main


def run(cfg, epochs, options):
    import numpy as np
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(0)
    x_np, y_np, lengths_np = make_data(cfg)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    lengths = torch.from_numpy(lengths_np)
    res = Result(system="torch", config=cfg.name, version=torch.__version__, samples=cfg.samples,
                 notes=f"{torch.get_num_threads()} threads")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(cfg.features, cfg.units, batch_first=True)
            self.dense = nn.Linear(cfg.units, 2)

        def forward(self, xb, lb):
            packed = pack_padded_sequence(xb, lb, batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)
            return torch.sigmoid(self.dense(h[-1]))

    t0 = time.perf_counter()
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.BCELoss()

    def train_batch(i):
        opt.zero_grad()
        loss = loss_fn(net(x[i], lengths[i]), y[i])
        loss.backward()
        opt.step()
        return loss

    train_batch(torch.arange(cfg.batch))
    res.first_batch_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    times = []
    for _ in range(1 + epochs):
        with Clock() as c:
            order = torch.from_numpy(rng.permutation(cfg.samples))
            total = 0.0
            for s in range(0, cfg.samples, cfg.batch):
                i = order[s:s + cfg.batch]
                total += float(train_batch(i)) * len(i)
        times.append(c.s)
    res.final_loss = total / cfg.samples
    res.warmup_epoch_s, res.train_epoch_s = times[0], times[1:]
    res.train_samples_per_s = median_rate(cfg.samples, res.train_epoch_s)
    res.peak_rss_fit_mb = peak_rss_mb()

    def predict():
        with torch.no_grad():
            return torch.cat([net(x[s:s + cfg.batch], lengths[s:s + cfg.batch])
                              for s in range(0, cfg.samples, cfg.batch)]).numpy()

    with Clock() as c:
        predict()
    res.warmup_predict_s = c.s
    for _ in range(epochs):
        with Clock() as c:
            predict()
        res.predict_s.append(c.s)
    res.infer_samples_per_s = median_rate(cfg.samples, res.predict_s)
    return res


if __name__ == "__main__":
    peer_main(run)
