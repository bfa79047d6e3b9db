// Package train fine-tunes ONNX models on the engine: mini-batches from a
// dataset (shuffled by seed), optimizers with explicit state (SGD with
// momentum or Nesterov, AdamW; optax's init/update pair, torch.optim's
// semantics), learning-rate schedules (constant, step, cosine, one-cycle,
// linear warm-up), gradient clipping by global norm, losses (cross-entropy
// with labels, label-free distillation from a teacher with T²-scaled KL on
// softened logits, MSE on named intermediate values), masks that keep pruned
// weights and their optimizer state exactly zero, and data-parallel steps over
// model replicas whose gradients are summed in a fixed order, so a seed and a
// thread count fix the result.
//
// The loop works on any [Model]: *engine.Trainable is one; the tests use a
// small softmax-regression model with hand-written gradients. Recipes and
// pitfalls: shared/design/training.md §3–4 (masks on optimizer state, BN
// recalibration, label-free KD).
//
// Imports point down: train uses onnxio and engine, never prune; the
// iterative pruning driver takes the pruning step as a function.
package train
