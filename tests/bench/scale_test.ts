/** bench-scale on a tiny archive: every data stage runs and reports its figures. */
import assert from "node:assert/strict";
import { projectPath } from "../../lib/util/project.ts";

/** Runs bench-scale on the 24-image RSNA archive with the given stages. */
function benchScale(stages: string): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/scale.ts", "--images", "24", "--size", "48", "--format", "rsna"]
      .concat(["--stages", stages, "--steps", "1", "--json"]),
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("bench-scale --json: images, peakRssMiB, seconds and images per second per stage", async () => {
  const dir = projectPath("outputs/bench-scale/rsna-24-48");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    const out = await benchScale("generate,dataset,audit,cache128,cache224");
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, err);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(r.images, 24);
    assert.ok(r.peakRssMiB > 0);
    assert.deepEqual(Object.keys(r.stages), [
      "generate",
      "dataset",
      "audit",
      "cache128",
      "cache224",
    ]);
    for (const s of Object.values(r.stages) as { seconds: number; imagesPerSecond: number }[]) {
      assert.ok(s.seconds >= 0 && s.imagesPerSecond > 0);
    }
    assert.equal(r.stages.dataset.images, 24);
    assert.match(err, /ETA|done in/);
    const images224 = r.stages.cache224.images;
    assert.ok(images224 > 0);
    assert.equal(r.stages.cache224.note, `${images224} decoded`);
    // A rerun keeps the archive and decodes again from cold caches.
    const again = await benchScale("generate,cache224");
    assert.equal(again.code, 0, new TextDecoder().decode(again.stderr));
    const r2 = JSON.parse(new TextDecoder().decode(again.stdout));
    assert.equal(r2.stages.generate.note, "reused (already written)");
    assert.equal(r2.stages.cache224.note, `${images224} decoded`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
