#!/usr/bin/env python3
"""Exports the recurrent test fixtures of testdata/rnn with torch.

Two small keyword-spotting style models (untrained, seeded weights): a
Conv1d front-end over 40 log-mel bands x 49 frames, then a recurrent layer,
then a Linear classifier over 12 keywords from the last hidden state.

  kws_gru.onnx   Conv1d(40, 32, 3, stride 2) + ReLU, GRU(32, 48), Linear(48, 12)
  kws_lstm.onnx  Conv1d(40, 32, 3, stride 2) + ReLU, 2-layer bidirectional
                 LSTM(32, 24), Linear(2*24, 12) on the last step of Y

Usage: /usr/bin/python3 tools/py/export_rnn.py OUTDIR   (Debian python3-torch)
"""
import sys

import torch
from torch import nn


class KWS(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.conv = nn.Conv1d(40, 32, 3, stride=2)
        self.cell = cell
        if cell == "gru":
            self.rnn = nn.GRU(32, 48)
            self.fc = nn.Linear(48, 12)
        else:
            self.rnn = nn.LSTM(32, 24, num_layers=2, bidirectional=True)
            self.fc = nn.Linear(48, 12)

    def forward(self, x):  # x: [batch, 40, 49]
        f = torch.relu(self.conv(x))  # [batch, 32, 24]
        f = f.permute(2, 0, 1)  # [time, batch, 32]
        if self.cell == "gru":
            _, h = self.rnn(f)  # h: [1, batch, 48]
            return self.fc(h[0])
        y, _ = self.rnn(f)  # y: [time, batch, 48]
        return self.fc(y[-1])


def main():
    out = sys.argv[1]
    torch.manual_seed(12)
    for cell in ("gru", "lstm"):
        m = KWS(cell).eval()
        x = torch.randn(1, 40, 49)
        torch.onnx.export(m, x, f"{out}/kws_{cell}.onnx", input_names=["x"], output_names=["logits"],
                          opset_version=14, do_constant_folding=True)


if __name__ == "__main__":
    main()
