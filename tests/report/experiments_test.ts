import assert from "node:assert/strict";
import { join } from "node:path";
import { experimentsTable, findExperiments } from "../../lib/report/experiments.ts";
import { main } from "../../lib/cli/experiments.ts";
import { writeJsonAtomic } from "../../lib/util/atomic.ts";

/** A finished run folder as the training engine leaves it (only the files the table reads). */
async function fakeRun(dir: string, balance: string, auc: number, trainImages: number) {
  await writeJsonAtomic(join(dir, "config.json"), {
    model: "compact",
    size: 48,
    fraction: 1,
    epochs: 2,
    balance,
    seed: 42,
  });
  await writeJsonAtomic(join(dir, "summary.json"), {
    trainImages,
    totalTimeS: 3.21,
    val: { auc, f1: 0.8 },
  });
}

/** A report folder as runReport leaves it: settings.json, results/test.json, runs/. */
async function fakeReport(dir: string, sets: string[], balance: string, auc: number) {
  await fakeRun(join(dir, "runs", "compact"), balance, auc, balance === "down" ? 24 : 48);
  await writeJsonAtomic(join(dir, "results", "test.json"), {
    run: "compact",
    auc: auc - 0.1,
    atThreshold: { sensitivity: 0.95, specificity: 0.5 },
  });
  await writeJsonAtomic(join(dir, "settings.json"), {
    schema: "xray-report-settings/1",
    profile: "ci",
    seed: 42,
    sets,
    created: "2026-01-01T00:00:00.000Z",
    totalSeconds: 60,
  });
}

Deno.test("the experiments table lists reports (with their --set) beside runs, with metrics", async () => {
  const root = await Deno.makeTempDir({ prefix: "experiments_" });
  try {
    await fakeReport(join(root, "report"), [], "none", 0.9);
    await fakeReport(join(root, "exp-down"), ["balance=down"], "down", 0.85);
    await fakeRun(join(root, "runs", "mine"), "up", 0.7, 72);
    await Deno.mkdir(join(root, "cache", "images"), { recursive: true });
    const rows = await findExperiments(root);
    assert.deepEqual(rows.map((r) => `${r.kind} ${r.path}`), [
      "report exp-down",
      "report report",
      "run exp-down/runs/compact",
      "run report/runs/compact",
      "run runs/mine",
    ]);
    const down = rows.find((r) => r.path === "exp-down")!;
    assert.equal(down.sets, "balance=down");
    assert.equal(down.balance, "down");
    assert.equal(down["train images"], 24);
    assert.equal(down["test AUC"], 0.75);
    assert.equal(rows.find((r) => r.path === "runs/mine")!.profile, null);
    const df = await experimentsTable(root);
    assert.equal(df.height, 5);
    assert.match(df.getColumn("seed").dtype.toString(), /Int64/);
    const csv = join(root, "table.csv");
    assert.equal(await main(["--root", root, "--csv", csv, "--json"]), 0);
    const text = await Deno.readTextFile(csv);
    assert.match(text.split("\n")[0], /^kind,path,created,profile,sets,model,size,fraction/);
    assert.match(text, /report,exp-down,.*,ci,balance=down,compact,48,1\.0,2,down,42,24,0\.85/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("no reports or runs under the folder is an error that says how to make one", async () => {
  const root = await Deno.makeTempDir({ prefix: "experiments_" });
  try {
    await assert.rejects(experimentsTable(root), /No reports .* deno task report/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
