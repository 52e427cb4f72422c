import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { auditDataset } from "../../lib/data/audit.ts";
import { auditToJson, formatAudit, writeAudit } from "../../lib/data/audit_output.ts";
import { writeBadImages } from "../../lib/images/fixtures.ts";
import { kaggleFiles, tempDir, tinyImage, writeTree } from "./_fixtures.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A Kaggle tree with 15 good images, 5 unreadable ones (empty, truncated, text, corrupt, garbage), a duplicate
 * across splits, a patient in two splits and a non-image file.
 */
async function badTree(root: string): Promise<void> {
  const dup = await tinyImage("jpeg", 200);
  await writeTree(root, {
    ...kaggleFiles(),
    "train/PNEUMONIA/person50_bacteria_1.jpeg": dup,
    "test/PNEUMONIA/person51_bacteria_2.jpeg": dup,
    "test/NORMAL/IM-0001-0005.jpeg": "jpeg", // IM-0001 is also in train (IM-0001-0001)
    "train/NORMAL/notes.txt": "text",
  });
  const bad = await writeBadImages(await Deno.makeTempDir({ dir: root, prefix: ".bad" }));
  await Deno.copyFile(bad["empty.jpeg"], join(root, "train/PNEUMONIA/person60_virus_1.jpeg"));
  await Deno.copyFile(bad["truncated.jpeg"], join(root, "train/PNEUMONIA/person61_virus_2.jpeg"));
  await Deno.copyFile(bad["text.jpeg"], join(root, "val/NORMAL/IM-0062-0001.jpeg"));
  await Deno.copyFile(bad["corrupt.jpeg"], join(root, "test/PNEUMONIA/person70_bacteria_3.jpeg"));
  await Deno.copyFile(bad["garbage.png"], join(root, "val/PNEUMONIA/person71_virus_4.png"));
}

Deno.test("audit: counts, sizes, unreadable files, duplicates and shared patients", async () => {
  const root = await tempDir();
  try {
    await badTree(root);
    const r = await auditDataset(root, { concurrency: 3 });
    assert.equal(r.layout, "kaggle");
    assert.equal(r.total, 20);
    assert.equal(r.readable, 15);
    assert.deepEqual(r.unreadable.map((u) => u.relPath), [
      "test/PNEUMONIA/person70_bacteria_3.jpeg",
      "train/PNEUMONIA/person60_virus_1.jpeg",
      "train/PNEUMONIA/person61_virus_2.jpeg",
      "val/NORMAL/IM-0062-0001.jpeg",
      "val/PNEUMONIA/person71_virus_4.png",
    ]);
    assert.match(r.unreadable[0].reason, /cannot decode|truncated/);
    assert.match(r.unreadable[1].reason, /empty \(0 bytes\)/);
    assert.match(r.unreadable[2].reason, /truncated|cannot decode/);
    assert.match(r.unreadable[3].reason, /not an image: it looks like text/);
    assert.match(r.unreadable[4].reason, /not an image/);

    assert.deepEqual(r.counts.toRecords(), [
      { split: "train", label: "NORMAL", subtype: "normal", images: 2, patients: 2 },
      { split: "train", label: "PNEUMONIA", subtype: "bacteria", images: 2, patients: 2 },
      { split: "train", label: "PNEUMONIA", subtype: "virus", images: 3, patients: 3 },
      { split: "val", label: "NORMAL", subtype: "normal", images: 3, patients: 3 },
      { split: "val", label: "PNEUMONIA", subtype: "bacteria", images: 1, patients: 1 },
      { split: "val", label: "PNEUMONIA", subtype: "virus", images: 2, patients: 2 },
      { split: "test", label: "NORMAL", subtype: "normal", images: 3, patients: 3 },
      { split: "test", label: "PNEUMONIA", subtype: "bacteria", images: 3, patients: 3 },
      { split: "test", label: "PNEUMONIA", subtype: "virus", images: 1, patients: 1 },
    ]);
    const splits = r.splits.toRecords();
    assert.deepEqual(splits.map((s) => [s.split, s.images, s.NORMAL, s.PNEUMONIA]), [
      ["train", 7, 2, 5],
      ["val", 6, 3, 3],
      ["test", 7, 3, 4],
      ["total", 20, 8, 12],
    ]);
    assert.equal(splits[0].percent, Math.round(10000 * 7 / 20) / 100);
    assert.equal(splits[3].percent, 100);
    assert.equal(splits[1].ratio, 1);
    assert.equal(r.classRatio, 1.5);

    const sizes = r.sizes.toRecords();
    assert.equal(sizes.reduce((s, x) => s + Number(x.images), 0), 15);
    for (const s of sizes) assert.deepEqual([s.width, s.height], [8, 8]);
    assert.deepEqual(sizes.map((s) => s.format).sort(), ["jpeg", "png"]);
    assert.ok(r.fileBytes && r.fileBytes.min > 0 && r.fileBytes.min <= r.fileBytes.max);

    assert.equal(r.duplicates.length, 1);
    assert.deepEqual(r.duplicates[0].files, [
      "test/PNEUMONIA/person51_bacteria_2.jpeg",
      "train/PNEUMONIA/person50_bacteria_1.jpeg",
    ]);
    assert.deepEqual(r.duplicates[0].splits, ["train", "test"]);
    assert.deepEqual(r.duplicates[0].patients, ["person50", "person51"]);
    assert.deepEqual(r.sharedPatients, [{ patient: "IM-0001", splits: ["train", "test"] }]);
    assert.equal(r.plannedStrategy, "official");
    assert.match(r.warnings.join("\n"), /notes\.txt/);
    assert.match(r.warnings.join("\n"), /1 patient\(s\) appear in more than one split/);
    assert.equal(r.files.shape.height, 20);

    const text = formatAudit(r);
    for (
      const h of [
        "Images per split folder, class and subtype",
        "Unreadable files: 5 (skipped)",
        "Exact duplicates (same SHA-256): 1 group(s), 2 files; 0 with both labels, 1 across patients",
        "Patients in more than one split folder: 1",
        "person61_virus_2.jpeg",
      ]
    ) assert.ok(text.includes(h), h);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("audit: flat layout, progress callback and written files", async () => {
  const root = await tempDir();
  const out = await tempDir();
  try {
    await writeTree(root, {
      "NORMAL/IM-0001-0001.jpeg": "jpeg",
      "NORMAL/IM-0002-0001.jpeg": "jpeg",
      "PNEUMONIA/person1_virus_1.jpeg": "jpeg",
      "PNEUMONIA/scan.png": "png",
    });
    const seen: number[] = [];
    const r = await auditDataset(root, { onProgress: (d, t) => seen.push(d / t) });
    assert.deepEqual(seen.sort(), [0.25, 0.5, 0.75, 1]);
    assert.equal(r.layout, "flat");
    assert.deepEqual(r.sharedPatients, []);
    assert.equal(r.plannedStrategy, "stratified");
    assert.deepEqual(r.counts.toRecords().map((c) => [c.split, c.subtype, c.images]), [
      ["all", "normal", 2],
      ["all", "unknown", 1],
      ["all", "virus", 1],
    ]);
    const written = await writeAudit(r, out);
    assert.deepEqual(written.map((p) => p.slice(out.length + 1)), [
      "audit.json",
      "counts.csv",
      "splits.csv",
      "planned_splits.csv",
      "sizes.csv",
      "unreadable.csv",
      "skipped.csv",
      "duplicates.csv",
      "shared_patients.csv",
      "files.csv",
    ]);
    const json = JSON.parse(await Deno.readTextFile(join(out, "audit.json")));
    assert.equal(json.total, 4);
    assert.deepEqual(json, JSON.parse(JSON.stringify(auditToJson(r))));
    assert.equal((await Deno.readTextFile(join(out, "unreadable.csv"))).trim(), "relPath,reason");
    const files = (await Deno.readTextFile(join(out, "files.csv"))).trim().split("\n");
    assert.equal(files.length, 5);
    assert.match(
      files[0],
      /^relPath,split,plannedSplit,label,subtype,patient,ok,reason,width,height/,
    );
    assert.ok((await Array.fromAsync(Deno.readDir(out))).every((e) => !e.name.endsWith(".tmp")));
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("audit: the probe cache answers a rerun without decoding, with the same report", async () => {
  const root = await tempDir();
  const cacheDir = await tempDir();
  try {
    await badTree(root);
    const probeCache = join(cacheDir, "probe.json");
    const cold = await auditDataset(root, { probeCache });
    // 19 files have content to key on; the empty one is probed each time, uncounted.
    assert.equal(cold.probeCache!.misses + cold.probeCache!.hits, 19);
    assert.ok(cold.probeCache!.misses >= 15);
    const warm = await auditDataset(root, { probeCache });
    assert.deepEqual(warm.probeCache, { path: probeCache, hits: 19, misses: 0 });
    assert.deepEqual(warm.unreadable, cold.unreadable);
    assert.deepEqual(warm.counts.toRecords(), cold.counts.toRecords());
    assert.deepEqual(warm.sizes.toRecords(), cold.sizes.toRecords());
    assert.deepEqual(warm.files.toRecords(), cold.files.toRecords());
    // A header-only cache entry does not answer a verifying probe.
    const headerCache = join(cacheDir, "header.json");
    await auditDataset(root, { probeCache: headerCache, verify: false });
    const verified = await auditDataset(root, { probeCache: headerCache });
    assert.ok(verified.probeCache!.misses >= 15);
    // Same files; not the same reasons, as libvips's message for a bad file can vary run to run.
    assert.deepEqual(
      verified.unreadable.map((u) => u.relPath),
      cold.unreadable.map((u) => u.relPath),
    );
    // A broken cache file is ignored, then rewritten.
    await Deno.writeTextFile(probeCache, "{not json");
    const rebuilt = await auditDataset(root, { probeCache });
    assert.equal(rebuilt.probeCache!.hits + rebuilt.probeCache!.misses, 19);
    assert.equal(JSON.parse(await Deno.readTextFile(probeCache)).version, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("audit: a missing root is an error naming it", async () => {
  await assert.rejects(
    auditDataset("/nonexistent/xray"),
    /Dataset folder not found: \/nonexistent\/xray/,
  );
});

/** Runs the audit CLI as `deno task audit` does (same permissions), from the repo root. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write=outputs",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      "lib/cli/audit.ts",
      ...args,
    ],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

Deno.test("audit CLI: --json prints one JSON object; tables otherwise; clear errors", async () => {
  const root = await tempDir();
  const outRel = `outputs/test_audit_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await badTree(root);
    const j = await runCli(["--data", root, "--json", "--out", outRel, "--no-cache"]);
    assert.equal(j.code, 0, j.stderr);
    const obj = JSON.parse(j.stdout);
    assert.equal(obj.total, 20);
    assert.equal(obj.unreadable.length, 5);
    assert.equal(j.stdout.trim().split("\n").length, 1);
    assert.equal(obj.probeCache, null);
    assert.ok((await Deno.stat(join(REPO, outRel, "audit.json"))).isFile);

    const t = await runCli(["--data", root, "--out", outRel, "--concurrency", "2"]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /Dataset audit of .* \(kaggle layout\): 20 images, 15 readable/);
    assert.match(t.stdout, /Wrote .*audit\.json/);

    const missing = await runCli(["--data", join(root, "nope"), "--out", outRel]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /audit: Dataset folder not found/);
    assert.equal(missing.stdout, "");

    const outside = await runCli(["--data", root, "--out", "/tmp/elsewhere"]);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /may only write under outputs\//);

    const badArg = await runCli(["--data", root, "--concurrency", "0"]);
    assert.equal(badArg.code, 2);
    assert.match(badArg.stderr, /--concurrency must be an integer >= 1, got "0"/);
    const unknown = await runCli(["--frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /usage: deno task audit/);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(join(REPO, outRel), { recursive: true }).catch(() => {});
  }
});
