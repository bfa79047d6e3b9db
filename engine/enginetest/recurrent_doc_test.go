package enginetest

// recurrentCoverage is the docs/ops.md section on LSTM and GRU, which have
// no test in onnx-go's suite: what engine/op_rnn_test.go and
// engine/rnn_models_test.go check, and against what.
const recurrentCoverage = `
## LSTM and GRU

No conformance test in the suite above; checked by engine/op_rnn_test.go
against a float64 loop written from the operator docs (the spec: |got − ref|
≤ 1e-5 + 1e-4·|ref|) and against ONNX Runtime (max |got − ORT| ≤ 1e-5 of
the output scale), 18 node cases:

| attribute / input | covered |
|---|---|
| direction | forward, reverse, bidirectional |
| layout | 0; 1 (ORT's CPU kernels refuse it: compared through the layout-0 twin, same weights, inputs and outputs transposed) |
| hidden_size | given; absent, taken from R (ORT requires it: reference loop only) |
| B, initial_h, initial_c (LSTM), P (LSTM) | absent and given |
| sequence_lens | absent; per-batch lengths, forward, reverse and bidirectional; at run time, values outside [0, seq_length] are clamped (0: Y zero, Y_h the initial state) |
| clip | absent, 0.5, 0.7 |
| input_forget (LSTM) | 0, 1 |
| linear_before_reset (GRU) | 0, 1 |
| activations | Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus, per direction |
| activation_alpha / activation_beta | given (taken in order by the functions that use them, as ORT does); defaults of LeakyRelu (0.01), HardSigmoid (0.2, 0.5), Elu (1) |
| outputs | Y, Y_h, Y_c each present or omitted |

Whole models: testdata/rnn/kws_gru.onnx and kws_lstm.onnx, exported by torch
(tools/py/export_rnn.py: Conv1d, then GRU with linear_before_reset = 1 or a
two-layer bidirectional LSTM, then Linear), match ORT to 1e-5 of the output
scale. The input projection of all steps is one SGEMM per direction; the
recurrence runs step by step. LSTM and GRU have no backward: CompileTrainable
refuses a trainable weight they read, naming the node.
`
