import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { pseudoOf } from "../../lib/cli/train.ts";
import { UsageError } from "../../lib/cli/_args.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import { checkPseudoConfig, listUnlabelled, selectPseudoLabels } from "../../lib/train/pseudo.ts";
import { syntheticTrainData } from "../../lib/train/synthetic_data.ts";
import { train, TrainingInterrupted } from "../../lib/train/train.ts";
import { readCsv } from "../../lib/util/csv.ts";

await initBackend();
const quiet = () => {};

Deno.test("selectPseudoLabels: confident only, class-balanced by the prior, NaN skipped", () => {
  // 6 confident positives, 2 confident negatives; prior = mean of the scores.
  const p = [0.99, 0.98, 0.97, 0.96, 0.96, 0.95, 0.01, 0.04, 0.5, 0.6, NaN];
  const s = selectPseudoLabels(p, { high: 0.95, low: 0.05 });
  const finite = p.filter(Number.isFinite);
  assert.equal(s.prior, finite.reduce((a, b) => a + b, 0) / finite.length);
  assert.deepEqual(s.confident, { positives: 6, negatives: 2 });
  // Positives cut to round(2 * prior / (1 - prior)), the most confident kept.
  const nPos = Math.round((2 * s.prior) / (1 - s.prior));
  assert.deepEqual(s.index, [...[0, 1, 2, 3, 4].slice(0, nPos), 6, 7]);
  assert.deepEqual(s.label, [...Array(nPos).fill(1), 0, 0]);
  // Too many negatives: cut the least confident negatives.
  const q = selectPseudoLabels([0.99, 0.01, 0.02, 0.03, 0.04, 0.3], { high: 0.95, low: 0.05 });
  assert.deepEqual(q.label.filter((l) => l === 1).length, 1);
  assert.ok(q.index.includes(1) && !q.index.includes(4));
  // One class only: nothing (the balance cannot be kept).
  assert.deepEqual(selectPseudoLabels([0.99, 0.98, 0.5], { high: 0.95, low: 0.05 }).index, []);
});

Deno.test("listUnlabelled: every image under the folder, by file name, no labels", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "PNEUMONIA", "deep"), { recursive: true });
    await Deno.mkdir(join(dir, "NORMAL"));
    for (const f of ["PNEUMONIA/b.jpeg", "NORMAL/a.png", "PNEUMONIA/deep/c.jpg", "NORMAL/x.txt"]) {
      await Deno.writeFile(join(dir, f), new Uint8Array([1]));
    }
    const files = await listUnlabelled(dir);
    assert.deepEqual(files.map((f) => f.relPath), [
      "NORMAL/a.png",
      "PNEUMONIA/b.jpeg",
      "PNEUMONIA/deep/c.jpg",
    ]);
    assert.deepEqual(Object.keys(files[0]).sort(), ["path", "relPath"]);
    await assert.rejects(() => listUnlabelled(join(dir, "NORMAL", "none")), /cannot read/);
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    await assert.rejects(() => listUnlabelled(empty), /no image files/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pseudo config: checked values, and the train flags that make it", () => {
  const base = { unlabelled: "/site", high: 0.95, low: 0.05, fromEpoch: 1, weight: 1 };
  assert.equal(checkPseudoConfig(base, 3), null);
  assert.match(checkPseudoConfig({ ...base, high: 0.4 }, 3)!, /high/);
  assert.match(checkPseudoConfig({ ...base, low: 0.6 }, 3)!, /low/);
  assert.match(checkPseudoConfig({ ...base, fromEpoch: 3 }, 3)!, /before the last/);
  assert.match(checkPseudoConfig({ ...base, weight: 0 }, 3)!, /weight/);
  assert.throws(
    () =>
      resolveConfig({ model: "compact", data: "/d", epochs: 2, pseudo: { ...base, fromEpoch: 2 } }),
    /pseudo fromEpoch/,
  );
  assert.throws(
    () => resolveConfig({ model: "compact", data: "/d", epochs: 3, classes: 3, pseudo: base }),
    /classes 2/,
  );
  assert.equal(resolveConfig({ model: "compact", data: "/d" }).pseudo, null);
  assert.equal(pseudoOf({}), null);
  assert.deepEqual(pseudoOf({ unlabelled: "/site" }), base);
  assert.deepEqual(
    pseudoOf({
      unlabelled: "/s",
      "pseudo-threshold": "0.9, 0.1",
      "pseudo-from": 2,
      "pseudo-weight": 0.5,
    }),
    { unlabelled: "/s", high: 0.9, low: 0.1, fromEpoch: 2, weight: 0.5 },
  );
  assert.throws(() => pseudoOf({ "pseudo-from": 2 }), UsageError);
  assert.throws(() => pseudoOf({ unlabelled: "/s", "pseudo-threshold": "0.1,0.9" }), UsageError);
});

/** A tiny self-training run on synthetic pictures; the unlabelled folder on disk. */
function pseudoConfig(out: string, unlabelled: string, outputsDir: string) {
  return resolveConfig({
    model: "compact",
    data: "/synthetic",
    out,
    size: 16,
    channels: 1,
    batchSize: 8,
    epochs: 4,
    seed: 3,
    learningRate: 0.01,
    earlyStopping: { metric: "val_loss", patience: 10 },
    pseudo: { unlabelled, high: 0.6, low: 0.4, fromEpoch: 1, weight: 1 },
    outputsDir,
  });
}

const withoutTime = (csv: string) => {
  const lines = csv.trim().split("\n");
  const t = lines[0].split(",").indexOf("time_s");
  return lines.map((l) => l.split(",").filter((_, i) => i !== t).join(",")).join("\n");
};

Deno.test("self-training: pseudo-labels (never folder labels) join training; resume matches", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const site = join(tmp, "site");
    await writeSyntheticDataset(site, { perClass: 12, size: 32, seed: 11, splits: ["test"] });
    const data = () =>
      syntheticTrainData({ trainPerClass: 16, valPerClass: 8, size: 16, channels: 1 });
    const outputs = join(tmp, "outputs");
    const a = join(tmp, "a");
    await train(pseudoConfig(a, site, outputs), { data: data(), workers: 0, log: quiet });
    const metrics = await Deno.readTextFile(join(a, "metrics.csv"));
    assert.match(metrics.split("\n")[0], /,time_s,pseudo_pos,pseudo_neg$/);
    const rows = await readCsv(join(a, "pseudo_labels.csv"));
    assert.ok(rows.length > 0, "some images were pseudo-labelled");
    for (const r of rows) {
      const p = Number(r.prob);
      assert.equal(Number(r.pseudo), p >= 0.6 ? 1 : 0, `pseudo-label of ${r.file} from its score`);
      assert.ok(p >= 0.6 || p <= 0.4);
      assert.ok([1, 2, 3].includes(Number(r.epoch)), "chosen after epochs 1-3, not after the last");
    }
    // Epoch e + 1 trained on the images chosen after epoch e.
    const hist = await readCsv(join(a, "metrics.csv"));
    assert.equal(Number(hist[0].pseudo_pos) + Number(hist[0].pseudo_neg), 0);
    for (const e of [1, 2, 3]) {
      const chosen = rows.filter((r) => Number(r.epoch) === e);
      assert.equal(Number(hist[e].pseudo_pos), chosen.filter((r) => r.pseudo === "1").length);
      assert.equal(Number(hist[e].pseudo_neg), chosen.filter((r) => r.pseudo === "0").length);
    }

    // The folder's class names mean nothing: swap them, same run.
    await Deno.rename(join(site, "test", "NORMAL"), join(site, "test", "tmp"));
    await Deno.rename(join(site, "test", "PNEUMONIA"), join(site, "test", "NORMAL"));
    await Deno.rename(join(site, "test", "tmp"), join(site, "test", "PNEUMONIA"));
    const b = join(tmp, "b");
    await train(pseudoConfig(b, site, outputs), { data: data(), workers: 0, log: quiet });
    assert.equal(
      withoutTime(await Deno.readTextFile(join(b, "metrics.csv"))),
      withoutTime(metrics),
    );
    const rowsB = await readCsv(join(b, "pseudo_labels.csv"));
    const key = (r: Record<string, string>) =>
      `${r.epoch} ${basename(r.file)} ${r.prob} ${r.pseudo}`;
    assert.deepEqual(rowsB.map(key), rows.map(key));
    assert.notDeepEqual(rowsB.map((r) => r.file), rows.map((r) => r.file));

    // Interrupted after epoch 2 and resumed: the same run.
    const c = join(tmp, "c");
    await assert.rejects(
      () =>
        train(pseudoConfig(c, site, outputs), {
          data: data(),
          workers: 0,
          log: quiet,
          interruptAfter: 2,
        }),
      TrainingInterrupted,
    );
    await train(pseudoConfig(c, site, outputs), {
      data: data(),
      workers: 0,
      log: quiet,
      resume: true,
    });
    assert.equal(
      withoutTime(await Deno.readTextFile(join(c, "metrics.csv"))),
      withoutTime(metrics),
    );
    assert.deepEqual((await readCsv(join(c, "pseudo_labels.csv"))).map(key), rows.map(key));
    assert.deepEqual(
      await Deno.readFile(join(c, "model", "weights.bin")),
      await Deno.readFile(join(b, "model", "weights.bin")),
    );

    // And the pseudo-labels change training: the same run without them differs.
    const d = join(tmp, "d");
    await train({ ...pseudoConfig(d, site, outputs), pseudo: null }, {
      data: data(),
      workers: 0,
      log: quiet,
    });
    const plain = withoutTime(await Deno.readTextFile(join(d, "metrics.csv")));
    assert.equal(
      plain.split("\n")[1],
      withoutTime(metrics).split("\n")[1].split(",").slice(0, -2).join(","),
    );
    assert.notEqual(
      plain.split("\n")[3],
      withoutTime(metrics).split("\n")[3].split(",").slice(0, -2).join(","),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
