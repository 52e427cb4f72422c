import assert from "node:assert/strict";
import {
  type CliSpec,
  helpText,
  parseCli,
  refuseFlagsOutside,
  usage,
  UsageError,
} from "../../lib/cli/_args.ts";
import { AUDIT_CLI } from "../../lib/cli/audit.ts";
import { COMPARE_CLI } from "../../lib/cli/compare.ts";
import { EVALUATE_CLI, evaluateForm } from "../../lib/cli/evaluate.ts";
import { EXPERIMENTS_CLI } from "../../lib/cli/experiments.ts";
import { PREDICT_CLI } from "../../lib/cli/predict.ts";
import { REPORT_CLI } from "../../lib/cli/report.ts";
import { TRAIN_CLI } from "../../lib/cli/train.ts";
import { SERVE_CLI } from "../../lib/cli/serve.ts";
import { EXPORT_CLI } from "../../lib/cli/export.ts";
import { OOD_CLI } from "../../lib/cli/ood.ts";
import { SELECT_CLI } from "../../lib/cli/select.ts";

const SPEC = {
  name: "demo",
  synopsis: ["[--size N] FILE..."],
  about: "A demo.",
  positionals: "FILE...",
  flags: {
    size: { type: "number", arg: "N", integer: true, min: 1, default: 64, help: "side" },
    lr: { type: "number", arg: "X", help: "rate" },
    mode: { type: "string", choices: ["a", "b"], default: "a", help: "mode" },
    name: { type: "string", arg: "NAME", help: "a name" },
    json: { type: "boolean", help: "JSON" },
  },
} as const satisfies CliSpec;

Deno.test("parseCli: typed values, defaults, positionals and --help", () => {
  const r = parseCli(SPEC, ["--size", "32", "--lr", "0.5", "x.png", "--json", "y.png"]);
  assert.deepEqual(r.values, { size: 32, lr: 0.5, mode: "a", name: undefined, json: true });
  assert.deepEqual(r.positionals, ["x.png", "y.png"]);
  assert.equal(r.help, false);
  assert.equal(parseCli(SPEC, ["-h"]).help, true);
  assert.equal(parseCli(SPEC, []).values.size, 64);
});

Deno.test("parseCli: every error names the bad flag", () => {
  const bad = (args: string[], re: RegExp) =>
    assert.throws(
      () => parseCli(SPEC, args),
      (e: Error) => e instanceof UsageError && re.test(e.message),
    );
  bad(["--size", "0"], /--size must be an integer >= 1, got "0"/);
  bad(["--size", "2.5"], /--size must be an integer >= 1, got "2.5"/);
  bad(["--lr", "fast"], /--lr expects a number, got "fast"/);
  bad(["--mode", "c"], /--mode must be one of a, b, got "c"/);
  bad(["--frobnicate"], /--frobnicate/);
  bad(["--name"], /--name/);
  assert.throws(() => parseCli({ ...SPEC, positionals: undefined }, ["x.png"]), UsageError);
});

Deno.test("help text lists every flag with its default and choices", () => {
  const h = helpText(SPEC);
  assert.match(h, /^usage: deno task demo \[--size N\] FILE\.\.\./);
  assert.match(h, /--size N\s+side \(default 64\)/);
  assert.match(h, /--mode VALUE\s+mode \(one of a, b; default a\)/);
  assert.match(h, /-h, --help/);
  assert.equal(usage(SPEC), "usage: deno task demo [--size N] FILE...");
});

Deno.test("every CLI declares its flags with the helper, each with a help line", () => {
  for (
    const spec of [
      AUDIT_CLI,
      TRAIN_CLI,
      EVALUATE_CLI,
      PREDICT_CLI,
      REPORT_CLI,
      COMPARE_CLI,
      SERVE_CLI,
      EXPORT_CLI,
      OOD_CLI,
      EXPERIMENTS_CLI,
      SELECT_CLI,
    ] as CliSpec[]
  ) {
    const h = helpText(spec);
    for (const [name, f] of Object.entries(spec.flags)) {
      assert.ok(f.help.length > 0, `${spec.name} --${name} has a help line`);
      assert.match(h, new RegExp(`--${name}\\b`), `${spec.name} --help shows --${name}`);
    }
  }
  assert.equal(parseCli(TRAIN_CLI, ["--workers", "0"]).values.workers, 0);
  assert.throws(() => parseCli(TRAIN_CLI, ["--optimizer", "sgdm"]), /--optimizer must be one of/);
  assert.equal(parseCli(EVALUATE_CLI, []).values.split, "test");
  assert.equal(parseCli(REPORT_CLI, []).values.profile, "quick");
  assert.deepEqual(parseCli(REPORT_CLI, []).values.set, []);
  assert.deepEqual(
    parseCli(REPORT_CLI, ["--set", "balance=down", "--set", "fraction=0.5"]).values.set,
    ["balance=down", "fraction=0.5"],
  );
  assert.match(helpText(REPORT_CLI), /--set NAME=VALUE\s+.*\(repeatable\)/);
});

Deno.test("parseCli: given holds the flags written, not the defaults", () => {
  assert.deepEqual([...parseCli(SPEC, ["--lr=0.1", "--json", "x", "-h"]).given], ["lr", "json"]);
  assert.deepEqual([...parseCli(SPEC, ["--mode", "a"]).given], ["mode"]);
  assert.equal(parseCli(SPEC, []).given.size, 0);
});

Deno.test("refuseFlagsOutside names every flag the form would ignore", () => {
  refuseFlagsOutside(new Set(["a", "b"]), ["a", "b", "c"], "form x");
  assert.throws(
    () => refuseFlagsOutside(new Set(["a", "tta", "ci"]), ["a"], "form x"),
    (e: Error) => e instanceof UsageError && e.message === "--tta, --ci do not apply to form x",
  );
});

Deno.test("evaluate: each form refuses the flags it would ignore, naming them", () => {
  const form = (args: string[]) => {
    const { values, given } = parseCli(EVALUATE_CLI, args);
    const runs = (values.run ?? "outputs/reference").split(",");
    return evaluateForm(values, given, runs);
  };
  const refused = (args: string[], re: RegExp) =>
    assert.throws(() => form(args), (e: Error) => e instanceof UsageError && re.test(e.message));
  // Site calibration on a sample: --adapt, --tta and --ci were accepted and ignored before.
  assert.equal(form(["--calibrate", "S", "--sample-size", "9", "--seed", "1", "--save"]), "sample");
  for (const flag of [["--adapt", "bn"], ["--tta", "4"], ["--ci"], ["--split", "val"]]) {
    refused(
      ["--calibrate", "S", ...flag],
      new RegExp(`^${flag[0]} does not apply to site calibration on a sample`),
    );
  }
  refused(["--calibrate", "S", "--run", "a,b"], /takes one run/);
  // The curve uses --adapt and --tta, not --save or --sample-size.
  assert.equal(
    form(["--calibrate", "S", "--curve", "25,all", "--adapt", "bn", "--tta", "2"]),
    "curve",
  );
  refused(
    ["--calibrate", "S", "--curve", "25", "--save"],
    /^--save does not apply to the few-label/,
  );
  // Scoring with --data.
  assert.equal(form(["--data", "D"]), "plain");
  assert.equal(form(["--data", "D", "--perturb", "3", "--split", "val"]), "plain");
  assert.equal(form(["--data", "D", "--calibrate", "S", "--ci", "--n-boot", "9"]), "site");
  refused(["--data", "D", "--calibrate", "S", "--save"], /^--save does not apply to scoring with/);
  refused(["--data", "D", "--adapt", "bn", "--perturb", "1"], /^--perturb does not apply/);
  refused(
    ["--data", "D", "--sample-size", "9"],
    /^--sample-size does not apply to scoring one run/,
  );
  refused(["--data", "D", "--tta", "2", "--n-boot", "9"], /^--n-boot goes with --ci/);
  refused([], /--data DIR is required/);
});
