/**
 * `deno task bench-pytorch --json`: the subprocess lines it parses and the JSON object it prints
 * (threads, oursMsPerImage, pytorchMsPerImage, ratio, ...), without running PyTorch.
 */
import assert from "node:assert/strict";
import {
  formatRound,
  oursFigures,
  parseResultLine,
  pytorchFigures,
  type Round,
  summarise,
} from "../../bench/vs_pytorch.ts";
import { timing } from "../../bench/model_bench.ts";

const PYTORCH_LINE = JSON.stringify({
  torch: "1.13.0a0+git7c98e70",
  threads: 2,
  batch: 8,
  trainMsPerImage: 53.4,
  trainCpuMsPerImage: 101.2,
  trainQuietMsPerImage: 52.1,
  trainStepMs: [420, 430],
  trainOthersCpuMs: [1, 2],
  predictMsPerImage: 10,
  predictCpuMsPerImage: 19,
});

const fig = (ms: number, quiet: number | null = ms) => ({
  trainMsPerImage: ms,
  trainCpuMsPerImage: 2 * ms,
  trainQuietMsPerImage: quiet,
});

Deno.test("pytorchFigures and oursFigures read the last JSON line; a bad line names its source", () => {
  const p = pytorchFigures(`warning: something\n${PYTORCH_LINE}\n`);
  assert.deepEqual(p, {
    torch: "1.13.0a0+git7c98e70",
    trainMsPerImage: 53.4,
    trainCpuMsPerImage: 101.2,
    trainQuietMsPerImage: 52.1,
  });
  const ours = oursFigures(JSON.stringify({
    train: { ...timing([200, 210, 190], [380, 400, 370], 8, [0, 50, 1]) },
  }));
  assert.equal(ours.trainMsPerImage, 25);
  assert.equal(ours.trainCpuMsPerImage, 47.5);
  assert.equal(ours.trainQuietMsPerImage, null, "one step was not quiet: fewer than 3 left");
  assert.throws(() => pytorchFigures("Traceback ..."), /pytorch_reference\.py: expected one JSON/);
  assert.throws(
    () => parseResultLine("x", '{"trainMsPerImage": "fast"}', ["trainMsPerImage"]),
    /x: field trainMsPerImage missing or not a number/,
  );
});

Deno.test("summarise: medians over rounds, ratio = PyTorch / ours, speed-up over one thread", () => {
  const rounds: Round[] = [
    { pytorch: fig(54), ours: fig(21), oursOneThread: fig(38), oursBefore: null },
    { pytorch: fig(52), ours: fig(20), oursOneThread: fig(36), oursBefore: null },
    { pytorch: fig(60), ours: fig(30, null), oursOneThread: fig(40), oursBefore: null },
  ];
  const r = summarise(rounds, 2, { torch: "1.13", machine: { cpus: 2 }, finishedAt: "now" });
  // The interface scripts depend on: these four fields, numbers.
  assert.equal(r.threads, 2);
  assert.equal(r.oursMsPerImage, 21);
  assert.equal(r.pytorchMsPerImage, 54);
  assert.equal(r.ratio, 2.57);
  assert.equal(r.oursOneThreadMsPerImage, 38);
  assert.equal(r.speedupVsOneThread, 1.81);
  assert.equal(r.oursKernelThreadsMsPerImage, null, "no kernel-thread runs in these rounds");
  assert.equal(r.kernelThreadsSpeedupVsOneThread, null);
  const withKernel = summarise(
    rounds.map((x, i) => ({ ...x, oursKernelThreads: fig([24, 22, 26][i]) })),
    2,
    { torch: "1.13", machine: {}, finishedAt: "now" },
  );
  assert.equal(withKernel.oursKernelThreadsMsPerImage, 24);
  assert.equal(withKernel.kernelThreadsSpeedupVsOneThread, 1.58);
  assert.equal(withKernel.ratio, 2.57, "the headline stays the data-parallel figure");
  assert.match(withKernel.workload, /2 data-parallel workers of one thread each/);
  assert.match(
    formatRound(0, { ...rounds[0], oursKernelThreads: fig(24) }),
    /ours on kernel threads 24 ms\/img/,
  );
  assert.equal(r.quiet, null, "a round without quiet steps on one side: no quiet summary");
  assert.equal(r.ratioWithoutSimdKernels, null);
  const parsed = JSON.parse(JSON.stringify(r));
  for (const k of ["threads", "oursMsPerImage", "pytorchMsPerImage", "ratio"]) {
    assert.equal(typeof parsed[k], "number", k);
  }
  const one = summarise([rounds[0]].map((x) => ({ ...x, oursOneThread: null })), 1, {
    torch: "1.13",
    machine: {},
    finishedAt: "now",
  });
  assert.equal(one.speedupVsOneThread, null);
  assert.deepEqual(one.quiet, { oursMsPerImage: 21, pytorchMsPerImage: 54, ratio: 2.57 });
  assert.throws(() => summarise([], 1, { torch: "", machine: {}, finishedAt: "" }), /no rounds/);
  assert.match(formatRound(0, rounds[0]), /^round 1: PyTorch 54 ms\/img .* ratio 2\.57$/);
});
