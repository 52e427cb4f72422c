import assert from "node:assert/strict";
import { join } from "node:path";
import { discoverDataset } from "../../lib/data/discover.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { kaggleFiles, tempDir, writeTree } from "./_fixtures.ts";

/** Runs `fn` with a temp dir holding `files`, then removes it. */
async function withTree(
  files: Record<string, Parameters<typeof writeTree>[1][string]>,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const root = await tempDir();
  try {
    await writeTree(root, files);
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("discover: Kaggle layout with all three splits", async () => {
  await withTree(kaggleFiles(), async (root) => {
    const d = await discoverDataset(root);
    assert.equal(d.layout, "kaggle");
    assert.equal(d.root, root);
    assert.equal(d.records.length, 12);
    assert.deepEqual(d.warnings, []);
    for (const s of ["train", "val", "test"]) {
      assert.equal(d.records.filter((r) => r.officialSplit === s).length, 4, s);
    }
    const rec = d.records.find((r) => r.relPath === "train/PNEUMONIA/person01_bacteria_01.jpeg")!;
    assert.deepEqual(rec, {
      path: join(root, "train/PNEUMONIA/person01_bacteria_01.jpeg"),
      relPath: "train/PNEUMONIA/person01_bacteria_01.jpeg",
      label: "PNEUMONIA",
      y: 1,
      subtype: "bacteria",
      patientId: "person01",
      parsed: true,
      officialSplit: "train",
    });
    const normal = d.records.find((r) => r.relPath === "val/NORMAL/NORMAL2-IM-0102-0001.jpeg")!;
    assert.equal(normal.y, 0);
    assert.equal(normal.subtype, "normal");
    assert.equal(normal.patientId, "NORMAL2-IM-0102");
    // Sorted by relPath, code-unit order.
    const rels = d.records.map((r) => r.relPath);
    assert.deepEqual(rels, [...rels].sort());
  });
});

Deno.test("discover: any subset of the splits", async () => {
  for (const splits of [["train"], ["test"], ["train", "test"], ["val", "test"]]) {
    await withTree(kaggleFiles(splits), async (root) => {
      const d = await discoverDataset(root);
      assert.equal(d.layout, "kaggle");
      assert.deepEqual(
        [...new Set(d.records.map((r) => r.officialSplit))].sort(),
        [...splits].sort(),
      );
      assert.equal(d.records.length, 4 * splits.length);
    });
  }
});

Deno.test("discover: flat layout (one folder of class folders)", async () => {
  const files = {
    "NORMAL/IM-0001-0001.jpeg": "jpeg",
    "NORMAL/IM-0001-0002.JPG": "jpeg",
    "PNEUMONIA/person5_virus_10.png": "png",
  } as const;
  await withTree(files, async (root) => {
    const d = await discoverDataset(root);
    assert.equal(d.layout, "flat");
    assert.deepEqual(d.records.map((r) => [r.relPath, r.officialSplit, r.label]), [
      ["NORMAL/IM-0001-0001.jpeg", null, "NORMAL"],
      ["NORMAL/IM-0001-0002.JPG", null, "NORMAL"],
      ["PNEUMONIA/person5_virus_10.png", null, "PNEUMONIA"],
    ]);
  });
});

Deno.test("discover: same output on every run", async () => {
  await withTree(kaggleFiles(), async (root) => {
    assert.deepEqual(await discoverDataset(root), await discoverDataset(root));
  });
});

Deno.test("discover: missing root names the folder and the expected layout", async () => {
  const root = join(await tempDir(), "nope");
  await assert.rejects(discoverDataset(root), (err: Error) => {
    assert.match(err.message, /Dataset folder not found/);
    assert.ok(err.message.includes(root));
    assert.match(err.message, /expected ROOT\/\{train,val,test\}\/\{NORMAL,PNEUMONIA\}/);
    return true;
  });
  await Deno.remove(join(root, ".."), { recursive: true });
});

Deno.test("discover: a file as root is refused", async () => {
  await withTree({ "a.jpeg": "jpeg" }, async (root) => {
    await assert.rejects(discoverDataset(join(root, "a.jpeg")), /is a file, not a folder/);
  });
});

Deno.test("discover: wrong layout says what was found and what was expected", async () => {
  await withTree({ "images/a.jpeg": "jpeg", "labels.csv": "text" }, async (root) => {
    await assert.rejects(discoverDataset(root), (err: Error) => {
      assert.match(err.message, /Unexpected layout in/);
      assert.match(err.message, /found folders images\/ and 1 file/);
      assert.match(err.message, /expected ROOT\/\{train,val,test\}/);
      return true;
    });
  });
  // An empty root.
  await withTree({}, async (root) => {
    await assert.rejects(discoverDataset(root), /found nothing \(the folder is empty\)/);
  });
});

Deno.test("discover: the Kaggle zip's nested folder gets a 'did you mean' hint", async () => {
  await withTree(
    Object.fromEntries(
      Object.entries(kaggleFiles(["train"])).map(([k, v]) => [`chest_xray/${k}`, v]),
    ),
    async (root) => {
      await assert.rejects(discoverDataset(root), (err: Error) => {
        assert.ok(err.message.includes(`did you mean ${join(root, "chest_xray")}?`), err.message);
        return true;
      });
    },
  );
});

Deno.test("discover: a split folder without a class folder is a layout error", async () => {
  await withTree(
    { "train/NORMAL/IM-0001-0001.jpeg": "jpeg", "train/other/x.jpeg": "jpeg" },
    async (root) => {
      await assert.rejects(discoverDataset(root), (err: Error) => {
        assert.ok(err.message.includes(join(root, "train")), err.message);
        assert.match(err.message, /has no PNEUMONIA folder: found folders NORMAL\/, other\//);
        assert.match(err.message, /expected train\/NORMAL\/ and train\/PNEUMONIA\//);
        return true;
      });
    },
  );
  await withTree({ "NORMAL/IM-0001-0001.jpeg": "jpeg" }, async (root) => {
    await assert.rejects(discoverDataset(root), /has no PNEUMONIA folder/);
  });
});

Deno.test("discover: an empty class folder names the folder and the extensions", async () => {
  const files = { ...kaggleFiles(["train"]), "train/NORMAL/IM-0001-0001.jpeg": "jpeg" } as Record<
    string,
    "jpeg" | "png" | "text"
  >;
  for (const k of Object.keys(files)) if (k.startsWith("train/NORMAL/")) delete files[k];
  files["train/NORMAL/readme.txt"] = "text";
  await withTree(files, async (root) => {
    await assert.rejects(discoverDataset(root), (err: Error) => {
      assert.equal(
        err.message,
        `Found 0 images under ${join(root, "train/NORMAL")} (looked for .jpeg .jpg .png .dcm)`,
      );
      return true;
    });
  });
});

Deno.test("discover: non-image files, dotfiles and nested folders", async () => {
  const files = {
    ...kaggleFiles(["train"]),
    "train/NORMAL/notes.txt": "text",
    "train/NORMAL/.DS_Store": "text",
    "train/PNEUMONIA/scan.gif": "text",
    "train/PNEUMONIA/sub/person9_virus_9.jpeg": "jpeg",
    ".hidden/x.jpeg": "jpeg",
    "README.md": "text",
  } as const;
  await withTree(files, async (root) => {
    const d = await discoverDataset(root);
    assert.equal(d.records.length, 4);
    assert.ok(d.records.every((r) => !r.relPath.includes(".DS_Store")));
    const w = d.warnings.join("\n");
    assert.match(
      w,
      /Skipped 2 non-image file\(s\) \(looked for \.jpeg \.jpg \.png \.dcm\): train\/NORMAL\/notes\.txt, train\/PNEUMONIA\/scan\.gif/,
    );
    assert.match(w, /Skipped 1 nested folder\(s\).*train\/PNEUMONIA\/sub\//);
    assert.match(w, /Ignored in .*: 1 file/);
    assert.ok(!w.includes(".DS_Store") && !w.includes(".hidden"), w);
  });
});

Deno.test("discover: unknown names are their own patients and counted in a warning", async () => {
  const files = {
    "NORMAL/IM-0001-0001.jpeg": "jpeg",
    "NORMAL/scan_a.png": "png",
    "PNEUMONIA/person1_bacteria_1.jpeg": "jpeg",
    "PNEUMONIA/scan_b.jpeg": "jpeg",
  } as const;
  await withTree(files, async (root) => {
    const d = await discoverDataset(root);
    const a = d.records.find((r) => r.relPath === "NORMAL/scan_a.png")!;
    assert.equal(a.parsed, false);
    assert.equal(a.patientId, "file:NORMAL/scan_a.png");
    assert.equal(a.subtype, "normal");
    assert.equal(a.subtypeKnown, undefined);
    const b = d.records.find((r) => r.relPath === "PNEUMONIA/scan_b.jpeg")!;
    assert.equal(b.patientId, "file:PNEUMONIA/scan_b.jpeg");
    assert.equal(b.subtypeKnown, false);
    const w = d.warnings.join("\n");
    assert.match(
      w,
      /2 file name\(s\) fit no known pattern.*NORMAL\/scan_a\.png, PNEUMONIA\/scan_b\.jpeg/,
    );
    assert.match(w, /1 PNEUMONIA file\(s\) have no bacteria\/virus subtype/);
  });
});

Deno.test("discover: a name that disagrees with its folder keeps the folder's class", async () => {
  const files = {
    "NORMAL/IM-0001-0001.jpeg": "jpeg",
    "NORMAL/person3_virus_4.jpeg": "jpeg",
    "PNEUMONIA/person1_bacteria_1.jpeg": "jpeg",
  } as const;
  await withTree(files, async (root) => {
    const d = await discoverDataset(root);
    const r = d.records.find((x) => x.relPath === "NORMAL/person3_virus_4.jpeg")!;
    assert.equal(r.label, "NORMAL");
    assert.equal(r.subtype, "normal");
    assert.equal(r.patientId, "person3");
    assert.match(
      d.warnings.join("\n"),
      /1 file name\(s\) disagree with their class folder.*name says virus/,
    );
  });
});

Deno.test("discover: lowercase class folders and mixed split + class folders", async () => {
  const files = {
    ...kaggleFiles(["train"]),
    "NORMAL/IM-0009-0001.jpeg": "jpeg",
  } as const;
  await withTree(files, async (root) => {
    const d = await discoverDataset(root);
    assert.equal(d.layout, "kaggle");
    assert.equal(d.records.length, 4);
    assert.match(d.warnings.join("\n"), /both split folders and class folders/);
  });
  await withTree(
    { "normal/IM-0001-0001.jpeg": "jpeg", "pneumonia/person1_virus_1.jpeg": "jpeg" },
    async (root) => {
      const d = await discoverDataset(root);
      assert.deepEqual(d.records.map((r) => r.label), ["NORMAL", "PNEUMONIA"]);
    },
  );
});

Deno.test("discover: the synthetic dataset's names all parse", async () => {
  const root = await tempDir();
  try {
    const { files } = await writeSyntheticDataset(root, { perClass: 10, size: 16, seed: 3 });
    const d = await discoverDataset(root);
    assert.equal(d.records.length, files.length);
    assert.deepEqual(d.warnings, []);
    assert.ok(d.records.every((r) => r.parsed && r.subtypeKnown !== false));
    assert.deepEqual(d.records.map((r) => r.path).sort(), [...files].sort());
    // Several images per patient somewhere.
    const perPatient = new Map<string, number>();
    for (const r of d.records) perPatient.set(r.patientId, (perPatient.get(r.patientId) ?? 0) + 1);
    assert.ok([...perPatient.values()].some((n) => n > 1));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
