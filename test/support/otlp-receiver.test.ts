import { describe, expect, it } from "vitest";
import { decodeExport, renderWaterfall, spanTree } from "./otlp-receiver.ts";

/** The test collector's decoding and its waterfall, on hand-made OTLP/JSON. */
describe("the OTLP receiver", () => {
  const request = {
    resourceSpans: [
      {
        resource: {
          attributes: [{ key: "service.name", value: { stringValue: "bazaar-runner" } }],
        },
        scopeSpans: [
          {
            scope: { name: "bazaar-runner" },
            spans: [
              {
                traceId: "0af7651916cd43dd8448eb211c80319c",
                spanId: "b7ad6b7169203331",
                parentSpanId: "00f067aa0ba902b7",
                name: "bazaar.bid",
                kind: 1,
                startTimeUnixNano: "1000000000",
                endTimeUnixNano: "1500000000",
                attributes: [
                  { key: "price", value: { doubleValue: 0.05 } },
                  { key: "tokens", value: { intValue: "12" } },
                  { key: "ok", value: { boolValue: true } },
                  { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }] } } },
                ],
                status: { code: 2, message: "refused" },
              },
              {
                // The protobuf JSON mapping's base64 ids.
                traceId: Buffer.from("0af7651916cd43dd8448eb211c80319c", "hex").toString("base64"),
                spanId: Buffer.from("00f067aa0ba902b7", "hex").toString("base64"),
                name: "bazaar.job",
                startTimeUnixNano: 0,
                endTimeUnixNano: "2000000000",
              },
            ],
          },
        ],
      },
    ],
  };

  it("decodes spans, ids, attribute values and status", () => {
    const [bid, job] = decodeExport(request);
    expect(bid).toMatchObject({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      parentSpanId: "00f067aa0ba902b7",
      name: "bazaar.bid",
      attributes: { price: 0.05, tokens: 12, ok: true, tags: ["a"] },
      statusCode: 2,
      statusMessage: "refused",
      scope: "bazaar-runner",
      resource: { "service.name": "bazaar-runner" },
    });
    expect(bid?.endNs).toBe(1_500_000_000n);
    expect(job).toMatchObject({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "00f067aa0ba902b7",
      parentSpanId: "",
    });
  });

  it("draws the trace as a tree on one time axis", () => {
    const spans = decodeExport(request);
    expect(spanTree(spans).map((r) => [r.span.name, r.depth])).toEqual([
      ["bazaar.job", 0],
      ["bazaar.bid", 1],
    ]);
    const lines = renderWaterfall(spans, 20).split("\n");
    expect(lines[0]).toBe("trace 0af7651916cd43dd8448eb211c80319c · 2 spans · 2000.0 ms");
    expect(lines[1]).toMatch(/^bazaar\.job\s+│█{20}│\s+2000\.0 ms$/);
    // Half a second from the 1 s mark of a 2 s trace: the middle quarter, failed.
    expect(lines[2]).toMatch(/^ {2}bazaar\.bid\s+│ {10}█{5} {5}│\s+500\.0 ms ✗$/);
  });
});
