import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { extractFromText } from "../../../src/agents/tools/inputs.ts";
import {
  checkArtefact,
  checkArtefacts,
  inferSchemas,
  sampleSets,
} from "../../../src/agents/tools/schema.ts";
import {
  BROKEN_DDL,
  BROKEN_OPENAPI,
  FIXED_OPENAPI,
  ORDER_RECORDS,
  SCHEMA_FIXTURES,
} from "./fixtures.ts";

const block = (name: string, language: string, text: string) => ({
  source: name,
  name,
  language,
  text,
});

describe("schema tools on customers' requests", () => {
  for (const fixture of SCHEMA_FIXTURES) {
    it(fixture.title, async () => {
      const { blocks } = extractFromText(fixture.description);
      const inferred = inferSchemas(sampleSets(blocks));
      expect(inferred.map((s) => s.name)).toEqual(fixture.inferred.map((s) => s.name));
      for (const [i, want] of fixture.inferred.entries()) {
        const got = inferred[i]!;
        expect(got.samplesValid, got.errors.join("; ")).toBe(true);
        expect(got.schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
        expect(got.schema.required).toEqual(expect.arrayContaining(want.required));
        for (const optional of want.notRequired ?? [])
          expect(got.schema.required).not.toContain(optional);
        if (got.ddl) expect(got.ddlValid).toBe(true);
      }
      const checks = await checkArtefacts(blocks);
      expect(checks.map((c) => ({ name: c.name, kind: c.kind, ok: c.ok }))).toEqual(fixture.checks);
      for (const check of checks.filter((c) => !c.ok)) expect(check.errors.join(" ")).not.toBe("");
    });
  }

  it("the inferred schema validates the samples with an independent ajv, and rejects a wrong record", () => {
    const [inferred] = inferSchemas([
      { name: "orders.json", source: "file orders.json", records: ORDER_RECORDS },
    ]);
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(inferred!.schema);
    for (const record of ORDER_RECORDS) expect(validate(record)).toBe(true);
    expect(validate({ ...ORDER_RECORDS[0], total: "42.50" })).toBe(false);
    expect(inferred!.schema.properties).toMatchObject({
      order_id: { type: "string", format: "uuid" },
      placed_at: { type: "string", format: "date-time" },
      total: { type: "number" },
      quantity: { type: "integer" },
      customer: { type: "object", required: ["id", "email"] },
      items: { type: "array", items: { type: "object", required: ["sku", "price"] } },
    });
  });

  it("reports a broken OpenAPI document, GraphQL SDL and SQL DDL with the parsers' errors", async () => {
    const openapi = await checkArtefact(block("design-1.yaml", "yaml", BROKEN_OPENAPI));
    expect(openapi).toMatchObject({ kind: "openapi", ok: false });
    expect(openapi!.errors.join(" ")).toMatch(/BookingPage/);
    expect(await checkArtefact(block("design-1.yaml", "yaml", FIXED_OPENAPI))).toMatchObject({
      ok: true,
    });
    const sdl = await checkArtefact(block("s.graphql", "graphql", "type Query { a: Missing }"));
    expect(sdl).toMatchObject({
      kind: "graphql",
      ok: false,
      errors: [expect.stringMatching(/Missing/)],
    });
    const ddl = await checkArtefact(block("s.sql", "sql", BROKEN_DDL));
    expect(ddl).toMatchObject({ kind: "sql", ok: false });
    expect(ddl!.errors[0]).toMatch(/^PostgreSQL: line 3/);
    const pg = await checkArtefact(
      block("p.sql", "sql", "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, doc JSONB NOT NULL);"),
    );
    expect(pg).toMatchObject({ ok: true, validator: "node-sql-parser (PostgreSQL)" });
    const swagger2 = await checkArtefact(
      block(
        "old.json",
        "json",
        JSON.stringify({ swagger: "2.0", info: { title: "x", version: "1" }, paths: {} }),
      ),
    );
    expect(swagger2).toMatchObject({ ok: false, errors: ["openapi 2.0 is not OpenAPI 3.x"] });
  });
});
