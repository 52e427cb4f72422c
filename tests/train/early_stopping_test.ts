/**
 * Early stopping's rule (`improvesOn`, lib/train/train.ts): a higher score, or the same score
 * with a lower validation loss; the first epoch always counts.
 */
import assert from "node:assert/strict";
import { resolveConfig } from "../../lib/train/config.ts";
import { improvesOn } from "../../lib/train/train.ts";
import type { EpochMetrics } from "../../lib/train/epoch_metrics.ts";

const val = (accuracy: number, loss: number): EpochMetrics => ({
  loss,
  accuracy,
  recall: 1,
  precision: accuracy,
  f1: 0.85,
  auc: NaN,
});

Deno.test("early stopping on val_accuracy: a plateau at the majority share improves while the loss falls", () => {
  const cfg = resolveConfig({ model: "cnn_reg", data: "d" });
  // cnn_reg's quick run: every validation image called pneumonia (0.7438) for four epochs.
  const best = { score: 0.7438, loss: 0.6188, bestEpoch: 1 };
  assert.ok(improvesOn(cfg, val(0.7438, 0.6125), best), "same accuracy, lower loss");
  assert.ok(!improvesOn(cfg, val(0.7438, 0.632), best), "same accuracy, higher loss");
  assert.ok(!improvesOn(cfg, val(0.7438, 0.6188), best), "same accuracy, same loss");
  assert.ok(improvesOn(cfg, val(0.75, 0.9), best), "higher accuracy, whatever the loss");
  assert.ok(!improvesOn(cfg, val(0.74, 0.1), best), "lower accuracy, whatever the loss");
  assert.ok(improvesOn(cfg, val(NaN, NaN), { score: -Infinity, loss: Infinity, bestEpoch: 0 }));
});

Deno.test("early stopping on val_loss or val_auc: the score decides, ties do not improve", () => {
  const byLoss = resolveConfig({
    model: "cnn_reg",
    data: "d",
    earlyStopping: { metric: "val_loss", patience: 3 },
  });
  const best = { score: -0.5, loss: 0.5, bestEpoch: 2 };
  assert.ok(improvesOn(byLoss, val(0.1, 0.4), best));
  assert.ok(!improvesOn(byLoss, val(0.99, 0.5), best));
  const byAuc = resolveConfig({
    model: "cnn_reg",
    data: "d",
    earlyStopping: { metric: "val_auc", patience: 3 },
  });
  const auc = (a: number, loss: number) => ({ ...val(0.8, loss), auc: a });
  assert.ok(improvesOn(byAuc, auc(0.9, 0.3), { score: 0.9, loss: 0.35, bestEpoch: 1 }));
  assert.ok(!improvesOn(byAuc, auc(0.89, 0.1), { score: 0.9, loss: 0.35, bestEpoch: 1 }));
});
