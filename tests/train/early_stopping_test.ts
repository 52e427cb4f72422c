/**
 * Early stopping's rule (`improvesOn`, lib/train/train.ts): a higher score or, for accuracy and
 * F1, the same score with a higher validation ROC-AUC; the first epoch always counts.
 */
import assert from "node:assert/strict";
import { resolveConfig } from "../../lib/train/config.ts";
import { improvesOn } from "../../lib/train/train.ts";
import type { EpochMetrics } from "../../lib/train/epoch_metrics.ts";

const val = (accuracy: number, auc: number, loss = 0.6): EpochMetrics => ({
  loss,
  accuracy,
  recall: 1,
  precision: accuracy,
  f1: 0.85,
  auc,
});

Deno.test("early stopping on val_accuracy: a plateau at the majority share improves while ROC-AUC rises", () => {
  const cfg = resolveConfig({ model: "cnn_reg", data: "d" });
  // cnn_reg's quick run: every validation image called pneumonia (0.7438) for four epochs while
  // its validation ROC-AUC rose 0.571, 0.733, 0.838, 0.894.
  const best = { score: 0.7438, auc: 0.733, bestEpoch: 2 };
  assert.ok(improvesOn(cfg, val(0.7438, 0.838), best), "same accuracy, higher ROC-AUC");
  assert.ok(!improvesOn(cfg, val(0.7438, 0.7), best), "same accuracy, lower ROC-AUC");
  assert.ok(improvesOn(cfg, val(0.75, 0.6), best), "higher accuracy, whatever the ROC-AUC");
  assert.ok(!improvesOn(cfg, val(0.74, 0.99), best), "lower accuracy, whatever the ROC-AUC");
  // A model that learned nothing: one score for every image, ROC-AUC 0.5, its loss falling
  // toward the class share's; it does not improve, so patience ends it.
  const dead = { score: 0.7438, auc: 0.5, bestEpoch: 1 };
  assert.ok(!improvesOn(cfg, val(0.7438, 0.5, 0.57), dead), "constant scores");
  assert.ok(!improvesOn(cfg, val(0.7438, NaN), dead), "NaN ROC-AUC (one class)");
  assert.ok(improvesOn(cfg, val(NaN, NaN), { score: -Infinity, auc: NaN, bestEpoch: 0 }));
});

Deno.test("early stopping on val_loss or val_auc: the score alone decides", () => {
  const byLoss = resolveConfig({
    model: "cnn_reg",
    data: "d",
    earlyStopping: { metric: "val_loss", patience: 3 },
  });
  const best = { score: -0.5, auc: 0.8, bestEpoch: 2 };
  assert.ok(improvesOn(byLoss, val(0.1, 0.1, 0.4), best));
  assert.ok(!improvesOn(byLoss, val(0.99, 0.99, 0.5), best), "same loss, higher ROC-AUC");
  const byAuc = resolveConfig({
    model: "cnn_reg",
    data: "d",
    earlyStopping: { metric: "val_auc", patience: 3 },
  });
  assert.ok(improvesOn(byAuc, val(0.8, 0.91), { score: 0.9, auc: 0.9, bestEpoch: 1 }));
  assert.ok(!improvesOn(byAuc, val(0.99, 0.9, 0.1), { score: 0.9, auc: 0.9, bestEpoch: 1 }));
});
