/**
 * The same synthetic images as Kaggle class folders and as each label-table format (csv, NIH
 * PNGs in images_00N/images, CheXpert, RSNA with a DICOM tree) give the same dataset and the
 * same evaluation JSON.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ARCHIVE_FORMATS, planArchive, writeArchive } from "../../lib/data/archive.ts";
import { loadDataset } from "../../lib/data/dataset.ts";
import { evaluateRun } from "../../lib/cli/evaluate.ts";
import { tinyRun } from "../serve/_run.ts";

const PLAN = planArchive(30, 7);

Deno.test({
  name: "every format reads the same images with the same labels and patients",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "formats_" });
    try {
      const seen = new Map<string, string>();
      for (const format of ARCHIVE_FORMATS) {
        const w = await writeArchive(join(root, format), format, PLAN, { size: 40 });
        const ds = await loadDataset({ data: w.data, labels: w.labels });
        assert.equal(ds.records.length, PLAN.length, format);
        assert.deepEqual(ds.skipped, [], format);
        assert.equal(ds.format, format === "folders" ? null : format);
        // The image id is in every format's path (CheXpert: patient + view index).
        const rows = PLAN.map((p) => {
          const r = ds.records.find((r) =>
            r.relPath.includes(p.id) ||
            r.relPath.includes(`${p.patient}/study1/view${p.index}_`)
          );
          assert.ok(r, `${format}: ${p.id} not found`);
          return `${p.id} ${r.label}`;
        }).join("\n");
        seen.set(format, rows);
        if (format === "csv" || format === "nih") {
          // Patients come from the table.
          for (const p of PLAN) {
            const r = ds.records.find((r) => r.relPath.includes(p.id))!;
            assert.equal(r.patientId, p.patient);
          }
        }
      }
      for (const [f, rows] of seen) assert.equal(rows, seen.get("folders"), f);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "evaluate --split all gives identical JSON on the folders and on every table format",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { run, cleanup } = await tinyRun("formats");
    const root = await Deno.makeTempDir({ prefix: "formats_eval_" });
    try {
      const results = new Map<string, string>();
      for (const format of ARCHIVE_FORMATS) {
        const w = await writeArchive(join(root, format), format, PLAN, { size: 48 });
        const e = await evaluateRun(run, { data: w.data, labels: w.labels }, "all", () => {});
        assert.equal(e.n, PLAN.length, format);
        results.set(format, JSON.stringify(e));
      }
      for (const [f, json] of results) assert.equal(json, results.get("folders"), f);
      const keys = Object.keys(JSON.parse(results.get("rsna")!));
      assert.deepEqual(keys, [
        "auc",
        "accuracy",
        "sensitivity",
        "specificity",
        "precision",
        "f1",
        "threshold",
        "confusion",
        "n",
      ]);
      // The command line prints the same object (RSNA: DICOM tree, format detected).
      const w = {
        data: join(root, "rsna"),
        labels: join(root, "rsna", "stage_2_train_labels.csv"),
      };
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "lib/cli/evaluate.ts",
          "--run",
          run,
          "--data",
          w.data,
          "--labels",
          w.labels,
          "--split",
          "all",
          "--json",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.deepEqual(
        JSON.parse(new TextDecoder().decode(out.stdout)),
        JSON.parse(results.get("folders")!),
      );
      // --split test on a table: the manifest's patient-level split, no patient in two splits.
      const test = await evaluateRun(run, { data: w.data, labels: w.labels }, "test", () => {});
      assert.ok(test.n > 0 && test.n < PLAN.length);
    } finally {
      await Deno.remove(root, { recursive: true });
      await cleanup();
    }
  },
});

Deno.test({
  name: "train reads a label table (RSNA DICOM tree): the run's split holds only its records",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { initBackend } = await import("../../lib/backend/select.ts");
    const { resolveConfig } = await import("../../lib/train/config.ts");
    const { train } = await import("../../lib/train/train.ts");
    const { readCsv } = await import("../../lib/util/csv.ts");
    await initBackend();
    const root = await Deno.makeTempDir({ prefix: "formats_train_" });
    try {
      const w = await writeArchive(join(root, "rsna"), "rsna", planArchive(40, 3), { size: 40 });
      // A bad row too: it must be skipped, not stop training.
      await Deno.writeTextFile(w.labels!, "missing-id,,,,,0\n", { append: true });
      const cfg = resolveConfig({
        model: "compact",
        data: w.data,
        labels: w.labels,
        out: join(root, "run"),
        size: 32,
        batchSize: 8,
        epochs: 1,
        seed: 3,
        outputsDir: join(root, "outputs"),
      });
      const lines: string[] = [];
      const r = await train(cfg, { log: (l) => lines.push(l) });
      assert.ok(
        lines.some((l) => /left out 1 item\(s\) \(missing-file 1\)/.test(l)),
        lines.join("\n"),
      );
      const ds = await loadDataset({ data: w.data, labels: w.labels });
      const known = new Set(ds.records.map((x) => x.relPath));
      const val = await readCsv(join(r.dir, "val_predictions.csv"));
      assert.ok(val.length > 0 && val.every((v) => known.has(v.relPath)));
      const saved = JSON.parse(await Deno.readTextFile(join(r.dir, "config.json")));
      assert.equal(saved.labels, w.labels);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
