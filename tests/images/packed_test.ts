/**
 * The packed decode cache: the same pixels as the in-memory loader, a build that resumes after a
 * kill (a real SIGKILL of a child process), and training that streams from it with the same
 * result as training in memory.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadImages } from "../../lib/images/cache.ts";
import { openPackedImages } from "../../lib/images/packed.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";

const opts = { size: 24, channels: 1 as const };

Deno.test("packed cache: same pixels as loadImages, failures named, resumes where it stopped", async () => {
  const root = await Deno.makeTempDir({ prefix: "packed_" });
  try {
    const { files } = await writeSyntheticDataset(join(root, "d"), { perClass: 6, size: 40 });
    const bad = join(root, "bad.png");
    await Deno.writeTextFile(bad, "not an image");
    const paths = [...files, bad];
    const mem = await loadImages(paths, { ...opts, cacheDir: null });
    const dir = join(root, "packed");
    const first = await openPackedImages(paths, { ...opts, dir, stopAfter: 5, checkpointEvery: 2 });
    // The images in flight when it stopped are finished and saved too.
    assert.ok(first.decoded >= 5 && first.decoded < paths.length, `decoded ${first.decoded}`);
    first.close();
    const second = await openPackedImages(paths, { ...opts, dir });
    assert.equal(second.decoded, paths.length - first.decoded);
    const third = await openPackedImages(paths, { ...opts, dir });
    assert.equal(third.decoded, 0);
    for (const p of [second, third]) {
      for (let i = 0; i < files.length; i++) {
        assert.deepEqual(p.image(i), mem.data.subarray(i * 576, (i + 1) * 576), `image ${i}`);
      }
      assert.equal(p.ok[files.length], 0);
      assert.equal(p.failures.length, 1);
      assert.match(p.failures[0].reason, /not an image/);
      p.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("packed cache: a build killed with SIGKILL resumes without decoding the saved part", async () => {
  const root = await Deno.makeTempDir({ prefix: "packed_kill_" });
  try {
    const { files } = await writeSyntheticDataset(join(root, "d"), { perClass: 40, size: 96 });
    const dir = join(root, "packed");
    const script = join(root, "build.ts");
    const mod = pathToFileURL(join(Deno.cwd(), "lib/images/packed.ts")).href;
    await Deno.writeTextFile(
      script,
      `import { openPackedImages } from "${mod}";\n` +
        `const paths = JSON.parse(Deno.args[0]);\n` +
        `await openPackedImages(paths, { size: 24, channels: 1, dir: Deno.args[1], ` +
        `checkpointEvery: 4, concurrency: 1 });\n`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        join(Deno.cwd(), "deno.json"),
        script,
        JSON.stringify(files),
        dir,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Wait for a saved state, then kill the build.
    const t0 = Date.now();
    let killed = false;
    while (Date.now() - t0 < 60_000) {
      const states = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
      if (states.some((e) => e.name.endsWith(".state.json"))) {
        child.kill("SIGKILL");
        killed = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.ok(killed, "no state was saved within 60 s");
    const resumed = await openPackedImages(files, { ...opts, dir });
    assert.equal(status.signal, "SIGKILL");
    // Some images were saved before the kill, and are not decoded again.
    assert.ok(resumed.decoded < files.length, `decoded ${resumed.decoded} of ${files.length}`);
    const mem = await loadImages(files, { ...opts, cacheDir: null });
    for (let i = 0; i < files.length; i++) {
      assert.deepEqual(resumed.image(i), mem.data.subarray(i * 576, (i + 1) * 576), `image ${i}`);
    }
    assert.equal(resumed.failures.length, 0);
    resumed.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "training streamed from the packed cache gives the same run as training in memory",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { initBackend } = await import("../../lib/backend/select.ts");
    const { resolveConfig } = await import("../../lib/train/config.ts");
    const { train } = await import("../../lib/train/train.ts");
    await initBackend();
    const root = await Deno.makeTempDir({ prefix: "packed_train_" });
    try {
      await writeSyntheticDataset(join(root, "d"), { perClass: 12, size: 48, seed: 5 });
      const run = async (name: string, streamAboveBytes?: number) => {
        const cfg = resolveConfig({
          model: "compact",
          data: join(root, "d"),
          out: join(root, name),
          size: 32,
          batchSize: 8,
          epochs: 2,
          seed: 3,
          outputsDir: join(root, "outputs"),
        });
        const lines: string[] = [];
        const r = await train(cfg, { log: (l) => lines.push(l), streamAboveBytes, workers: 0 });
        return { r, lines };
      };
      const mem = await run("mem");
      const disk = await run("disk", 0);
      assert.ok(
        disk.lines.some((l) => /packed \d+ images .* streamed, not held in memory/.test(l)),
      );
      assert.deepEqual(
        disk.r.history,
        mem.r.history.map((h, i) => ({
          ...h,
          timeS: disk.r.history[i].timeS,
        })),
      );
      assert.equal(disk.r.threshold.threshold, mem.r.threshold.threshold);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
