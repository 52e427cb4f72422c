/**
 * A corpus of bad label rows and files, in each table format: every one counted by kind, named
 * in the audit (text and --json), left out of the dataset (so of training), nothing else lost.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import sharp from "sharp";
import { auditDataset } from "../../lib/data/audit.ts";
import { auditToJson, formatAudit } from "../../lib/data/audit_output.ts";
import { loadDataset, type SkipKind, skippedCounts } from "../../lib/data/dataset.ts";
import { detectFormat, readLabelTable } from "../../lib/data/tables.ts";
import { loadOrCreateManifest } from "../../lib/data/split.ts";
import { encodeDicom } from "../../lib/images/dicom_write.ts";

let shade = 10;
/** A distinct 16x16 gray PNG. */
async function png(): Promise<Uint8Array> {
  const px = new Uint8Array(256).map((_, i) => (shade + i) % 256);
  shade += 37;
  return new Uint8Array(
    await sharp(px, { raw: { width: 16, height: 16, channels: 1 } }).png().toBuffer(),
  );
}
/** A 16x16 DICOM (options of encodeDicom). */
function dicom(opts: Parameters<typeof encodeDicom>[3] = {}): Uint8Array {
  const px = new Uint8Array(256).map((_, i) => (shade + 3 * i) % 256);
  shade += 11;
  return encodeDicom(px, 16, 16, opts);
}

async function write(root: string, files: Record<string, Uint8Array | string>): Promise<void> {
  for (const [rel, data] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(root, rel)), { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(join(root, rel), data);
    else await Deno.writeFile(join(root, rel), data);
  }
}

/** Only the kinds with a count. */
function nonZero(c: Record<SkipKind, number>): Partial<Record<SkipKind, number>> {
  return Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0));
}

Deno.test("detectFormat reads each public header", () => {
  assert.equal(detectFormat(["patientId", "x", "y", "width", "height", "Target"]), "rsna");
  assert.equal(detectFormat(["Image Index", "Finding Labels", "View Position"]), "nih");
  assert.equal(detectFormat(["Path", "Sex", "Frontal/Lateral", "Pneumonia"]), "chexpert");
  assert.equal(detectFormat(["Path", "Label", "Patient"]), "csv");
  assert.equal(detectFormat(["file", "class"]), null);
});

Deno.test("a table whose header fits no format is an error naming the file and the formats", async () => {
  const root = await Deno.makeTempDir();
  try {
    await write(root, { "t.csv": "file,class\na.png,1\n" });
    await assert.rejects(
      () => readLabelTable(join(root, "t.csv")),
      /t\.csv: cannot tell the label table's format.*rsna \(patientId, Target\)/,
    );
    await assert.rejects(
      () => readLabelTable(join(root, "t.csv"), { format: "nih" }),
      /needs the column\(s\) Image Index, Finding Labels/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("csv corpus: every kind of bad row and file is counted, named and left out", async () => {
  const root = await Deno.makeTempDir({ prefix: "bad_csv_" });
  try {
    await write(root, {
      "a/n1.png": await png(),
      "a/n2.png": await png(),
      "a/p1.png": await png(),
      "b/deep/p2.png": await png(),
      "a/extra.png": await png(), // no row
      "a/conflict.png": await png(),
      "a/maybe.png": await png(),
      "a/side.png": await png(), // lateral by the table
      "dcm/report.dcm": dicom({ noPixels: true }),
      "dcm/cine": dicom({ frames: 3 }), // multi-frame, no extension (sniffed)
      "dcm/lat.dcm": dicom({ tags: { ViewPosition: "LL" } }), // lateral by the DICOM tag
      "dcm/good": dicom({ bits: 16, monochrome1: true }), // kept: DICOM without .dcm
      "dcm/DICOMDIR": new Uint8Array(200), // ignored
      "notes.txt": "not an image",
      "labels.csv": [
        "path,label,patient,view",
        "a/n1.png,NORMAL,p1,PA",
        "a/n2.png,0,p1,",
        "a/p1.png,PNEUMONIA,p2,AP",
        "b/deep/p2.png,positive,p3,PA",
        "a/gone.png,NORMAL,p4,PA", // missing file
        "a/n1.png,NORMAL,p1,PA", // duplicate id
        "a/conflict.png,NORMAL,p5,PA",
        "a/conflict.png,PNEUMONIA,p5,PA", // conflicting labels
        "a/maybe.png,maybe,p6,PA", // unknown label
        "a/side.png,NORMAL,p7,LL", // lateral
        "dcm/report.dcm,NORMAL,p8,",
        "dcm/cine,PNEUMONIA,p9,",
        "dcm/lat.dcm,PNEUMONIA,p10,",
        "dcm/good,PNEUMONIA,p11,",
      ].join("\n") + "\n",
    });
    const src = { data: root, labels: join(root, "labels.csv") };
    const ds = await loadDataset(src);
    assert.equal(ds.format, "csv");
    assert.deepEqual(ds.records.map((r) => r.relPath), [
      "a/n1.png",
      "a/n2.png",
      "a/p1.png",
      "b/deep/p2.png",
      "dcm/good",
    ]);
    assert.deepEqual(ds.records.map((r) => r.label), [
      "NORMAL",
      "NORMAL",
      "PNEUMONIA",
      "PNEUMONIA",
      "PNEUMONIA",
    ]);
    assert.deepEqual(nonZero(skippedCounts(ds.skipped)), {
      "missing-file": 1,
      "no-row": 1,
      "duplicate-id": 1,
      "unknown-label": 1,
      "conflicting-labels": 1,
      lateral: 2,
      "no-pixel-data": 1,
      "multi-frame": 1,
    });
    const named = ds.skipped.map((s) => `${s.kind} ${s.item}`);
    for (
      const x of [
        "missing-file a/gone.png",
        "no-row a/extra.png",
        "duplicate-id a/n1.png",
        "unknown-label a/maybe.png",
        "conflicting-labels a/conflict.png",
        "lateral a/side.png",
        "lateral dcm/lat.dcm",
        "no-pixel-data dcm/report.dcm",
        "multi-frame dcm/cine",
      ]
    ) assert.ok(named.includes(x), `${x} not in ${named.join("; ")}`);
    // Nothing else lost: every image file is either a record or named once.
    const files = 12;
    const fileItems = new Set(
      ds.skipped.filter((s) =>
        s.kind !== "missing-file" &&
        s.kind !== "duplicate-id"
      ).map((s) => s.item),
    );
    assert.equal(ds.records.length + fileItems.size, files);

    // Training reads the same records (the manifest's splits hold exactly them).
    const outDir = join(root, "manifests");
    const m = await loadOrCreateManifest(src, { outDir });
    assert.deepEqual(m.records.map((r) => r.relPath).sort(), ds.records.map((r) => r.relPath));
    assert.equal(m.skipped.length, ds.skipped.length);

    // The audit: counts by kind and every item named, in text and JSON.
    const report = await auditDataset(src, { concurrency: 2 });
    assert.equal(report.total, 5);
    assert.equal(report.skippedCounts.lateral, 2);
    const text = formatAudit(report);
    assert.match(text, /Left out of the dataset: 9 item\(s\)/);
    assert.match(text, /multi-frame: dcm\/cine: 3 frames/);
    assert.match(text, /missing-file: a\/gone\.png: line 6/);
    const json = JSON.parse(JSON.stringify(auditToJson(report)));
    assert.equal(json.skippedCounts["no-pixel-data"], 1);
    assert.equal(json.skipped.length, 9);
    assert.equal(json.format, "csv");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rsna, nih and chexpert corpora: the format's own bad rows", async () => {
  const root = await Deno.makeTempDir({ prefix: "bad_tables_" });
  try {
    // RSNA: box rows collapse; Target conflict; Target 2; two files for one id; tree any depth.
    await write(root, {
      "rsna/s1/a/one.dcm": dicom(),
      "rsna/s1/b/two.dcm": dicom(),
      "rsna/s2/two": dicom(), // a second file for id "two"
      "rsna/three.dcm": dicom(),
      "rsna/four.dcm": dicom(),
      "rsna/labels.csv": [
        "patientId,x,y,width,height,Target",
        "one,1,2,3,4,1",
        "one,5,6,7,8,1",
        "two,,,,,0",
        "three,,,,,0",
        "three,1,2,3,4,1",
        "four,,,,,2",
        "five,,,,,0",
      ].join("\n"),
    });
    let ds = await loadDataset({ data: join(root, "rsna"), labels: join(root, "rsna/labels.csv") });
    assert.equal(ds.format, "rsna");
    assert.deepEqual(ds.records.map((r) => [r.relPath, r.label]), [
      ["s1/a/one.dcm", "PNEUMONIA"],
      ["s1/b/two.dcm", "NORMAL"],
    ]);
    assert.deepEqual(nonZero(skippedCounts(ds.skipped)), {
      "missing-file": 1,
      "duplicate-id": 1,
      "unknown-label": 1,
      "conflicting-labels": 1,
    });

    // NIH: other findings excluded (or NORMAL by policy); a lateral view; PNGs in images_00N.
    await write(root, {
      "nih/images_001/images/a.png": await png(),
      "nih/images_001/images/b.png": await png(),
      "nih/images_002/images/c.png": await png(),
      "nih/images_002/images/d.png": await png(),
      "nih/Data_Entry_2017.csv": [
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position",
        "a.png,Pneumonia|Effusion,0,7,5,F,PA",
        "b.png,No Finding,1,7,5,F,AP",
        "c.png,Effusion,0,8,6,M,PA",
        "d.png,Pneumonia,0,9,6,M,LL",
      ].join("\n"),
    });
    const nih = { data: join(root, "nih"), labels: join(root, "nih/Data_Entry_2017.csv") };
    ds = await loadDataset(nih);
    assert.deepEqual(ds.records.map((r) => [r.label, r.patientId]), [
      ["PNEUMONIA", "7"],
      ["NORMAL", "7"],
    ]);
    assert.deepEqual(nonZero(skippedCounts(ds.skipped)), { "excluded-label": 1, lateral: 1 });
    ds = await loadDataset({ ...nih, policy: { otherFindings: "normal" } });
    assert.equal(ds.records.length, 3);

    // CheXpert: -1 by the uncertain policy, blank, lateral; paths start with the folder's name.
    const base = "CheXpert-v1.0-small/train/patient00001";
    await write(root, {
      [`chx/${base}/study1/view1_frontal.png`]: await png(),
      [`chx/${base}/study1/view2_lateral.png`]: await png(),
      [`chx/${base}/study2/view1_frontal.png`]: await png(),
      [`chx/${base}/study3/view1_frontal.png`]: await png(),
      "chx/CheXpert-v1.0-small/train.csv": [
        "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Pneumonia",
        `${base}/study1/view1_frontal.png,Male,4,Frontal,AP,,1.0`,
        `${base}/study1/view2_lateral.png,Male,4,Lateral,,,1.0`,
        `${base}/study2/view1_frontal.png,Male,4,Frontal,PA,,-1.0`,
        `${base}/study3/view1_frontal.png,Male,4,Frontal,PA,1.0,`,
      ].join("\n"),
    });
    const chx = {
      data: join(root, "chx/CheXpert-v1.0-small"),
      labels: join(root, "chx/CheXpert-v1.0-small/train.csv"),
    };
    ds = await loadDataset(chx);
    assert.deepEqual(ds.records.map((r) => [r.label, r.patientId]), [
      ["PNEUMONIA", "patient00001"],
    ]);
    assert.deepEqual(nonZero(skippedCounts(ds.skipped)), { "excluded-label": 2, lateral: 1 });
    ds = await loadDataset({ ...chx, policy: { uncertain: "positive", blank: "negative" } });
    assert.deepEqual(ds.records.map((r) => r.label), ["PNEUMONIA", "PNEUMONIA", "NORMAL"]);
    ds = await loadDataset({ ...chx, policy: { uncertain: "negative" } });
    assert.deepEqual(ds.records.map((r) => r.label), ["PNEUMONIA", "NORMAL"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the folder layout's DICOMs get the same header checks", async () => {
  const root = await Deno.makeTempDir({ prefix: "bad_folders_" });
  try {
    await write(root, {
      "NORMAL/a.png": await png(),
      "NORMAL/b.dcm": dicom({ frames: 2 }),
      "PNEUMONIA/c.dcm": dicom(),
      "PNEUMONIA/d.dcm": dicom({ tags: { ViewPosition: "RL" } }),
    });
    const ds = await loadDataset(root);
    assert.equal(ds.layout, "flat");
    assert.deepEqual(ds.records.map((r) => r.relPath), ["NORMAL/a.png", "PNEUMONIA/c.dcm"]);
    assert.deepEqual(nonZero(skippedCounts(ds.skipped)), { "multi-frame": 1, lateral: 1 });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("audit: out of scope per dataset from the table's ages and the DICOM tags", async () => {
  const root = await Deno.makeTempDir({ prefix: "scope_" });
  try {
    await write(root, {
      "nih/images_001/images/a.png": await png(),
      "nih/images_001/images/b.png": await png(),
      "nih/images_001/images/c.png": await png(),
      "nih/images_001/images/d.png": await png(),
      "nih/Data_Entry_2017.csv": [
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position",
        "a.png,Pneumonia,0,1,58,F,PA",
        "b.png,No Finding,0,2,3,F,AP",
        "c.png,No Finding,0,3,041Y,M,PA",
        "d.png,No Finding,0,4,5,M,LL",
      ].join("\n"),
      "dcm/NORMAL/a.dcm": dicom({ tags: { PatientAge: "045Y" } }),
      "dcm/NORMAL/b.dcm": dicom({ tags: { Modality: "CT", BodyPartExamined: "HEAD" } }),
      "dcm/PNEUMONIA/c.dcm": dicom(),
      "dcm/PNEUMONIA/d.dcm": dicom({ tags: { ViewPosition: "LL" } }),
    });
    let r = await auditDataset({
      data: join(root, "nih"),
      labels: join(root, "nih/Data_Entry_2017.csv"),
    });
    assert.deepEqual(r.outOfScope.byCode, { dicom_age: 2 });
    assert.equal(r.outOfScope.images, 2);
    assert.equal(r.outOfScope.share, Number((2 / 3).toFixed(4)));
    assert.equal(r.outOfScope.ageKnown, 3);
    assert.equal(r.outOfScope.lateralLeftOut, 1);
    assert.match(formatAudit(r), /Out of scope for the pediatric model: 2 of 3 images \(66\.7%\)/);
    r = await auditDataset(join(root, "dcm"));
    assert.deepEqual(r.outOfScope.byCode, { dicom_age: 1, dicom_modality: 1, dicom_body_part: 1 });
    assert.equal(r.outOfScope.images, 2);
    assert.equal(r.outOfScope.lateralLeftOut, 1);
    const json = JSON.parse(JSON.stringify(auditToJson(r)));
    assert.equal(json.outOfScope.images, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rsna: files named by the PACS (no id in the name) are matched by their DICOM tags", async () => {
  const root = await Deno.makeTempDir({ prefix: "rsna_tags_" });
  try {
    await write(root, {
      "export/PAT1/STUDY1/SERIES1/IM00001": dicom({ tags: { PatientID: "abc-1" } }),
      "export/PAT2/STUDY1/SERIES1/IM00001": dicom({ tags: { PatientID: "abc-2" } }),
      "export/PAT3/STUDY1/SERIES1/IM00001": dicom({ tags: { PatientID: "someone-else" } }),
      "export/DICOMDIR": new Uint8Array(300),
      "labels.csv":
        "patientId,x,y,width,height,Target\nabc-1,1,2,3,4,1\nabc-2,,,,,0\nabc-3,,,,,0\n",
    });
    const ds = await loadDataset({ data: root, labels: join(root, "labels.csv") });
    assert.deepEqual(ds.records.map((r) => [r.relPath, r.label, r.patientId]), [
      ["export/PAT1/STUDY1/SERIES1/IM00001", "PNEUMONIA", "abc-1"],
      ["export/PAT2/STUDY1/SERIES1/IM00001", "NORMAL", "abc-2"],
    ]);
    assert.deepEqual(nonZero(skippedCounts(ds.skipped)), { "missing-file": 1, "no-row": 1 });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
