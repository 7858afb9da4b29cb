import { readFile, writeFile } from "node:fs/promises";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parseProfileText } from "../../src/config/profile.js";
import { profileJsonSchema } from "../../src/config/profile-schema.js";

const SCHEMA_FILE = new URL("../../docs/profile.schema.json", import.meta.url);
const EXAMPLES = ["spec-stages", "k6-ramp", "policy-mixed", "rest-api"];

describe("docs/profile.schema.json", () => {
  it("is exactly what the code generates (regenerate: UPDATE_PROFILE_SCHEMA=1 npx vitest run test/config/profile-schema.test.ts)", async () => {
    const generated = profileJsonSchema();
    if (process.env.UPDATE_PROFILE_SCHEMA === "1") {
      await writeFile(SCHEMA_FILE, `${JSON.stringify(generated, null, 2)}\n`);
    }
    // Compared as data, so formatting (Prettier) never makes it drift.
    expect(JSON.parse(await readFile(SCHEMA_FILE, "utf8"))).toEqual(generated);
  });

  it("is a valid draft-07 schema that accepts every example profile", async () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(JSON.parse(await readFile(SCHEMA_FILE, "utf8")));
    for (const name of EXAMPLES) {
      const path = `examples/${name}.yaml`;
      const { value } = parseProfileText(await readFile(path, "utf8"), path);
      expect(validate(value), `${path}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });

  it("rejects what the loader rejects for editors too: unknown keys, wrong types, bad durations", async () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(JSON.parse(await readFile(SCHEMA_FILE, "utf8")));
    expect(validate({ target: "http://127.0.0.1:8080", rsp: 10 })).toBe(false);
    expect(validate({ stages: [{ duration: "30 seconds", target: 10 }] })).toBe(false);
    expect(validate({ stages: [{ duration: "30s", target: -1 }] })).toBe(false);
    expect(validate({ cases: [{ name: "x", category: "normal", expect: { status: ["2xx", 700] } }] })).toBe(
      false,
    );
    expect(validate({ headers: { "X-Key": { env: "MY_KEY" } }, auth: { bearerEnv: "TOKEN" } })).toBe(true);
  });
});
