import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MarketplaceClient } from "../../src/marketplace/client.ts";
import { isMarketplaceError } from "../../src/marketplace/errors.ts";
import { formatFileSize } from "../../src/marketplace-server/files.ts";
import type { RunningMarketplace } from "../../src/marketplace-server/index.ts";
import { postedJobId, runCli } from "../cli/cli.ts";
import { type ClientMarket, startClientMarket } from "../support/client-market.ts";
import { api } from "../support/raw-http.ts";

const WALLET = "0x00000000000000000000000000000000000b0a57";

describe("job files on the embedded marketplace, through the real client", () => {
  let env: ClientMarket;
  let market: RunningMarketplace;
  let client: MarketplaceClient;
  let dir: { path: string };

  beforeEach(async () => {
    env = await startClientMarket("bazaar-files-test-");
    ({ market, client } = env);
    dir = { path: env.dir };
  });
  afterEach(() => env.close());

  const post = () =>
    client.postJob({
      title: "Find anomalies in the attached sensor export",
      description: "See the CSV.",
      budget_usd: 1,
      required_capabilities: [],
      poster_id: "poster_1",
      poster_wallet: WALLET,
    });

  it("uploads, lists and downloads a file; the job's attachments list it", async () => {
    const { job_id } = await post();
    const csv = "timestamp,value\n2026-01-01T00:00:00,1.5\n2026-01-01T01:00:00,1.7\n";
    const uploaded = await client.uploadJobFile(job_id, {
      filename: "sensor.csv",
      content: new TextEncoder().encode(csv),
      uploadedBy: "poster_1",
    });
    expect(uploaded).toMatchObject({
      filename: "sensor.csv",
      category: "data",
      size: Buffer.byteLength(csv),
      mime_type: "text/csv",
    });
    expect(uploaded.file_id).toMatch(/^file_[0-9a-f]{12}$/);
    expect(uploaded.checksum).toMatch(/^[0-9a-f]{64}$/);

    const files = await client.listJobFiles(job_id);
    expect(files).toEqual([
      expect.objectContaining({ file_id: uploaded.file_id, filename: "sensor.csv" }),
    ]);
    expect(await client.downloadJobFile(job_id, uploaded.file_id)).toBe(csv);
    const job = await client.getJob(job_id);
    // The service's full attachment record (files.py `JobAttachment`).
    expect(job.attachments).toEqual([
      {
        file_id: uploaded.file_id,
        job_id,
        filename: `${uploaded.file_id}_sensor.csv`,
        original_filename: "sensor.csv",
        category: "data",
        mime_type: "text/csv",
        size_bytes: Buffer.byteLength(csv),
        checksum_sha256: uploaded.checksum,
        uploaded_by: "poster_1",
        uploaded_at: expect.any(String),
        storage_path: `${job_id}/${uploaded.file_id}_sensor.csv`,
      },
    ]);

    const raw = await api(market.url).req("GET", `/api/jobs/${job_id}/files/${uploaded.file_id}`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get("content-type")).toMatch(/^text\/csv/);
    // `uploaded_by` is a form field with a default ("anonymous") on the service.
    const form = new FormData();
    form.append("file", new Blob(["1,2"]), "x.csv");
    const noUploader = await fetch(`${market.url}/api/jobs/${job_id}/files`, {
      method: "POST",
      body: form,
    });
    expect(noUploader.status).toBe(200);
    const anonymous = (await client.getJob(job_id)).attachments.at(-1) as { uploaded_by: string };
    expect(anonymous.uploaded_by).toBe("anonymous");
    const missing = await client.downloadJobFile(job_id, "file_00000000").catch((e) => e);
    expect(isMarketplaceError(missing, 404)).toBe(true);
  });

  it("refuses unknown jobs, disallowed types and an eleventh file", async () => {
    const unknown = await client
      .uploadJobFile("job_00000000", {
        filename: "a.csv",
        content: new Uint8Array([49]),
        uploadedBy: "p",
      })
      .catch((e) => e);
    expect(isMarketplaceError(unknown, 404)).toBe(true);
    const { job_id } = await post();
    const exe = await client
      .uploadJobFile(job_id, {
        filename: "tool.exe",
        content: new Uint8Array([1]),
        uploadedBy: "p",
      })
      .catch((e) => e);
    expect(isMarketplaceError(exe, 400)).toBe(true);
    for (let i = 0; i < 10; i++) {
      await client.uploadJobFile(job_id, {
        filename: `part${i}.json`,
        content: new TextEncoder().encode("[]"),
        uploadedBy: "p",
      });
    }
    const eleventh = await client
      .uploadJobFile(job_id, { filename: "x.json", content: new Uint8Array([1]), uploadedBy: "p" })
      .catch((e) => e);
    expect(isMarketplaceError(eleventh, 400)).toBe(true);
    expect(await client.listJobFiles(job_id)).toHaveLength(10);
    const types = (await api(market.url).req("GET", "/api/files/allowed-types")).json as {
      allowed_extensions: Record<string, string[]>;
      max_files_per_job: number;
      max_file_size_mb: number;
    };
    // api.py `get_allowed_file_types`: categories in the service's order, extensions sorted.
    expect(Object.keys(types)).toEqual([
      "max_file_size_mb",
      "max_files_per_job",
      "allowed_extensions",
    ]);
    expect(Object.keys(types.allowed_extensions)).toEqual(["code", "image", "document", "data"]);
    expect(types.allowed_extensions.data).toEqual([
      ".arrow",
      ".csv",
      ".feather",
      ".jsonl",
      ".ndjson",
      ".parquet",
      ".tsv",
    ]);
    expect(types.allowed_extensions.code).toContain(".json");
    expect([types.max_files_per_job, types.max_file_size_mb]).toEqual([10, 50]);
  });

  it("jobs post --file attaches the files to the posted job", async () => {
    const path = join(dir.path, "orders.json");
    await writeFile(path, '[{"id": 1, "total": 12.5}]');
    const run = await runCli(
      [
        "jobs",
        "post",
        "--title",
        "JSON Schema for our orders",
        "--description",
        "Infer a schema from the attached export",
        "--budget",
        "1",
        "--file",
        path,
      ],
      { cwd: dir.path, env: { BAZAAR_API_URL: market.url, RUNNER_STATE_DIR: dir.path } },
    );
    expect(run.code, run.stderr).toBe(0);
    const jobId = postedJobId(run.stdout);
    expect(run.stdout).toMatch(/attached orders\.json as file_[0-9a-f]{12}/);
    const [file] = await client.listJobFiles(jobId);
    expect(await client.downloadJobFile(jobId, file!.file_id)).toBe('[{"id": 1, "total": 12.5}]');

    const absent = await runCli(
      ["jobs", "post", "--title", "T", "--description", "D", "--budget", "1", "--file", "nope.csv"],
      { cwd: dir.path, env: { BAZAAR_API_URL: market.url, RUNNER_STATE_DIR: dir.path } },
    );
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain("--file nope.csv");
    expect((await client.listJobs()).jobs).toHaveLength(1);
  }, 90_000); // two CLI processes, each starting Node
});

describe("formatFileSize (files.py format_file_size)", () => {
  it("shows bytes, then KB and MB with one decimal, exact ties rounded to even as Python does", () => {
    expect(
      [0, 812, 1023, 1024, 1280, 1331, 3482, 3840, 1_048_576, 1_258_291, 1_310_720].map(
        formatFileSize,
      ),
    ).toEqual([
      "0 B",
      "812 B",
      "1023 B",
      "1.0 KB",
      "1.2 KB",
      "1.3 KB",
      "3.4 KB",
      "3.8 KB",
      "1.0 MB",
      "1.2 MB",
      "1.2 MB",
    ]);
  });
});
