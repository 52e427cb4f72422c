/**
 * CI check on the real data: the audit of the Kaggle training folder must report the known counts
 * (5,216 images: 1,341 NORMAL; 3,875 PNEUMONIA = 2,530 bacteria + 1,345 virus), nothing
 * unreadable, and no patient in two splits. Reads the audit JSON on stdin.
 */
const audit = JSON.parse(await new Response(Deno.stdin.readable).text());
const count = (label: string, subtype?: string) =>
  audit.counts
    .filter((r: any) => r.label === label && (!subtype || r.subtype === subtype))
    .reduce((s: number, r: any) => s + r.images, 0);
const got = {
  total: audit.total,
  normal: count("NORMAL"),
  pneumonia: count("PNEUMONIA"),
  bacteria: count("PNEUMONIA", "bacteria"),
  virus: count("PNEUMONIA", "virus"),
  unreadable: audit.unreadable.length ?? audit.unreadable,
  plannedSharedPatients: audit.plannedSharedPatients.length ?? audit.plannedSharedPatients,
};
const want = {
  total: 5216,
  normal: 1341,
  pneumonia: 3875,
  bacteria: 2530,
  virus: 1345,
  unreadable: 0,
  plannedSharedPatients: 0,
};
const bad = Object.entries(want).filter(([k, v]) => (got as any)[k] !== v);
if (bad.length) {
  console.error(`audit check FAILED: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  Deno.exit(1);
}
console.log(`audit check: ok ${JSON.stringify(got)}`);
