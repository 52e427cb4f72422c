import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import util from "node:util";
import {
  initNodeBackend,
  installNodeUtilShim,
  isNullOrUndefined,
  nodeSkipReason,
} from "../../lib/backend/node.ts";

Deno.test("isNullOrUndefined is Node's: true only for null and undefined", () => {
  assert.equal(isNullOrUndefined(null), true);
  assert.equal(isNullOrUndefined(undefined), true);
  for (const v of [0, "", false, NaN, [], {}]) assert.equal(isNullOrUndefined(v), false);
});

Deno.test("the shim makes util.isNullOrUndefined visible to CommonJS code, once", async () => {
  const u = util as unknown as Record<string, unknown>;
  const before = u.isNullOrUndefined;
  try {
    delete u.isNullOrUndefined;
    assert.equal(installNodeUtilShim(), true);
    assert.equal(installNodeUtilShim(), false); // idempotent: an existing function is kept
    // tfjs-node's compiled code calls it as `(0, util_1.isNullOrUndefined)(x)` after
    // `const util_1 = require("util")`; do exactly that from a CommonJS file.
    const dir = await Deno.makeTempDir();
    try {
      const file = join(dir, "uses_util.cjs");
      await Deno.writeTextFile(
        file,
        'const util_1 = require("util");\n' +
          "module.exports = [null, 0].map((v) => (0, util_1.isNullOrUndefined)(v));\n",
      );
      const require = createRequire(import.meta.url);
      assert.deepEqual(require(file), [true, false]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  } finally {
    if (before === undefined) delete u.isNullOrUndefined;
    else u.isNullOrUndefined = before;
  }
});

Deno.test("skip reasons: a missing package says 'not installed' and where to read how", async () => {
  for (const pkg of ["tfjs-node", "tfjs-node-gpu"] as const) {
    const err = await initNodeBackend(pkg).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof Error, `${pkg} is not installed here, so its import must fail`);
    const reason = nodeSkipReason(pkg, err);
    assert.match(reason, new RegExp(`^@tensorflow/${pkg} is not installed \\(optional`));
    assert.match(reason, /lib\/backend\/README\.md/);
    if (pkg === "tfjs-node-gpu") assert.match(reason, /CUDA 11\.2 \+ cuDNN 8\.1/);
  }
  // Other failures are passed on with their first line; missing CUDA libraries say what is needed.
  const cuda = new Error("libcudart.so.11.0: cannot open shared object file\nstack...");
  assert.match(
    nodeSkipReason("tfjs-node-gpu", cuda),
    /^failed to load: libcudart\.so\.11\.0: cannot open shared object file \(it needs the CUDA 11\.2/,
  );
  assert.equal(nodeSkipReason("tfjs-node", new Error("bad\nmore")), "failed to load: bad");
});
