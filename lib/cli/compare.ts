/**
 * `deno run --allow-read --allow-write=outputs lib/cli/compare.ts [--out FILE] [--command CMD]
 * [--title TEXT] RUN...`: prints the model comparison table of the run folders (lib/train/compare.ts)
 * and writes it as markdown, with the command that produced the runs.
 * @module
 */
import { compareRuns, comparisonMarkdown } from "../train/compare.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The compare command's flags. */
export const COMPARE_CLI = {
  name: "compare",
  command: "deno run --allow-read --allow-write=outputs lib/cli/compare.ts",
  synopsis: ["[--out FILE] [--command CMD] [--title TEXT] RUN..."],
  about: "The model comparison table (validation metrics of each run's kept model).",
  positionals: "RUN...",
  flags: {
    out: { type: "string", arg: "FILE", help: "also write the table as markdown here" },
    command: { type: "string", arg: "CMD", help: "the command that produced the runs" },
    title: {
      type: "string",
      arg: "TEXT",
      default: "Model comparison (validation split)",
      help: "heading of the markdown file",
    },
  },
} as const satisfies CliSpec;

/** Runs the compare command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values, positionals, help } = parseCli(COMPARE_CLI, args);
  if (help) return console.log(helpText(COMPARE_CLI));
  if (positionals.length === 0) throw new UsageError("no run folders given");
  const md = comparisonMarkdown(await compareRuns(positionals));
  console.log(md);
  if (values.out) {
    const text = `# ${values.title}\n\n${md}\n` +
      (values.command ? `Produced with:\n\n\`\`\`sh\n${values.command}\n\`\`\`\n` : "");
    await writeFileAtomic(values.out, text);
  }
}

if (import.meta.main) await runCli("compare", () => main(Deno.args), COMPARE_CLI);
