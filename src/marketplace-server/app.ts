import multipart from "@fastify/multipart";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { frameworkLogger, type Logger, silentLogger } from "../logger.ts";
import { AutoAwarder } from "./auto-award.ts";
import { registerAutoNegotiateRoute } from "./auto-negotiate.ts";
import { ApiError, InternalError, RequestValidationError } from "./errors.ts";
import { FaultInjector, type FaultRules } from "./faults.ts";
import { JobFiles, MAX_FILE_BYTES, registerFileRoutes } from "./files.ts";
import {
  HostedExecution,
  type HostedLlmOptions,
  registerHostedExecutionRoute,
} from "./hosted-execution.ts";
import { registerJobAdminRoutes } from "./job-admin-routes.ts";
import { KnownPaths } from "./known-paths.ts";
import { registerMoneyRoutes } from "./money-routes.ts";
import { posterPage } from "./poster-page.ts";
import { registerResultExportRoute } from "./result-export.ts";
import { registerReviewRoutes } from "./reviews.ts";
import { registerRoutes } from "./routes.ts";
import { MarketplaceRules } from "./rules.ts";
import { STALE_AFTER_SECONDS, StaleAgentSweeper, SWEEP_EVERY_SECONDS } from "./stale-sweep.ts";
import { MarketplaceStore } from "./store.ts";
import { isJsonContentType, NonJsonBody } from "./validation.ts";
import { WebhookSender } from "./webhooks.ts";

export interface MarketplaceServerOptions {
  /** SQLite file of the marketplace; `:memory:` for a throwaway one. */
  dbPath: string;
  /** Seconds between two registrations of one owner (the real service: 10). Default 0. */
  registrationCooldownSeconds?: number;
  /** Award each job this many seconds after its first bid (best confidence/price). Off by default. */
  autoAwardSeconds?: number;
  logger?: Logger;
  /** Clock of the marketplace's rules (times written, deadlines, cooldowns). */
  now?: () => Date;
  /** Fault injection for tests and the soak bench (see faults.ts). */
  faults?: FaultRules | null;
  /** Timeout of one `job.posted` delivery (the real service: 10 s). */
  webhookTimeoutMs?: number;
  /** Timeout of the `job_assigned` call to a webhook agent (the real service: 30 s). */
  assignmentWebhookTimeoutMs?: number;
  /** An agent silent this long is taken offline by the sweep (the real service: 300 s). */
  staleAgentSeconds?: number;
  /** Seconds between two stale-agent sweeps (the real service: 60); 0 turns the sweep off. */
  staleSweepSeconds?: number;
  /** The LLM of hosted execution (`POST /api/jobs/{id}/execute`); without one it ends disputed. */
  hostedLlm?: HostedLlmOptions;
}

export interface MarketplaceApp {
  app: FastifyInstance;
  store: MarketplaceStore;
  setFaults(f: FaultRules | null): void;
  close(): Promise<void>;
}

const BODY_LIMIT = 16 * 1024 * 1024;

/** Per-request lines at debug level only, so a runner sharing the logger stays readable. */
class DebugRequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, "marketplace request");
  }

  override requestCompleted(
    _err: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    reply.log.debug(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "marketplace response",
    );
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, "marketplace route not found");
  }
}

/** Builds the embedded AgentBazaar marketplace (not listening; see startMarketplace). */
export async function createMarketplaceApp(
  options: MarketplaceServerOptions,
): Promise<MarketplaceApp> {
  const log = (options.logger ?? silentLogger()).child({ component: "marketplace" });
  const now = options.now ?? (() => new Date());
  const store = new MarketplaceStore(options.dbPath);
  let awarder: AutoAwarder | null = null;
  store.onBadRow = (row) => log.warn(row, "marketplace row does not parse; left out of a listing");
  const webhooks = new WebhookSender(
    log,
    options.webhookTimeoutMs,
    options.assignmentWebhookTimeoutMs,
  );
  const rules: MarketplaceRules = new MarketplaceRules(store, {
    registrationCooldownSeconds: options.registrationCooldownSeconds ?? 0,
    now,
    onFirstBid: (jobId, at) => awarder?.schedule(jobId, at),
    onJobPosted: (job, matched) => webhooks.jobPosted(job, matched),
    // A webhook agent's answer to its assignment may be its result (submit.py).
    onBidSelected: (job, winner) =>
      webhooks.jobAssigned(job, winner, (result) => {
        rules.completeFromWebhook(job.job_id, winner.agent_id, result);
        log.info(
          { jobId: job.job_id, agentId: winner.agent_id },
          "webhook agent answered with its result",
        );
      }),
  });
  const sweeper = new StaleAgentSweeper(
    rules,
    options.staleAgentSeconds ?? STALE_AFTER_SECONDS,
    log,
  );
  const autoAward = options.autoAwardSeconds ?? 0;
  if (autoAward > 0) awarder = new AutoAwarder(rules, autoAward, log, now);

  const app = Fastify({
    loggerInstance: frameworkLogger(log) as FastifyBaseLogger,
    logController: new DebugRequestLog(),
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: BODY_LIMIT,
  });

  // Bodies are kept as text and parsed by the route that wants one (as FastAPI does):
  // a route without a body ignores whatever is sent, and bad JSON is a 422, not a 400.
  // A body of another content type stays unparsed text (NonJsonBody): a 422 where a JSON
  // body is expected, as FastAPI answers it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) =>
    done(
      null,
      isJsonContentType(req.headers["content-type"]) ? body : new NonJsonBody(String(body)),
    ),
  );

  const faults = new FaultInjector(options.faults ?? null);
  faults.install(app);

  // A known path asked with another method is a 405, as Starlette answers it.
  const known = new KnownPaths();
  app.addHook("onRoute", (route) => known.add(route.url, route.method));
  app.setNotFoundHandler((req, reply) => {
    const allowed = known.methodsOf(req.url);
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header("allow", allowed.join(", "))
        .send({ detail: "Method Not Allowed" });
    }
    return reply.code(404).send({ detail: "Not Found" });
  });
  app.setErrorHandler((err: Error, request, reply) => {
    if (err instanceof RequestValidationError) return reply.code(422).send({ detail: err.detail });
    if (err instanceof InternalError) {
      // What the service fails on unhandled: its bare 500, the reason in our log only.
      request.log.warn(
        { method: request.method, url: request.url, reason: err.message },
        "marketplace answers 500 as the service does",
      );
      return reply.code(500).type("text/plain; charset=utf-8").send("Internal Server Error");
    }
    if (err instanceof ApiError) {
      return reply.code(err.statusCode).headers(err.headers).send({ detail: err.message });
    }
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      // Framework errors (body too large, bad URL): keep their status, FastAPI's shape.
      return reply.code(status).send({ detail: err.message });
    }
    request.log.error(
      { err, method: request.method, url: request.url },
      "marketplace handler failed",
    );
    return reply.code(500).type("text/plain; charset=utf-8").send("Internal Server Error");
  });

  registerMoneyRoutes(app, store, now);
  registerRoutes(app, rules);
  // Job files are multipart uploads: the one content type parsed by a plugin.
  await app.register(multipart, { limits: { fileSize: MAX_FILE_BYTES, files: 1 } });
  registerFileRoutes(app, new JobFiles(store, now));
  const hosted = new HostedExecution(store, options.hostedLlm, now, log);
  registerHostedExecutionRoute(app, hosted);
  registerReviewRoutes(app, store, now);
  registerJobAdminRoutes(app, store, now);
  registerResultExportRoute(app, store, now);
  registerAutoNegotiateRoute(app, store, now);
  await app.register(posterPage, { dbPath: options.dbPath });
  awarder?.rearm();
  sweeper.start(options.staleSweepSeconds ?? SWEEP_EVERY_SECONDS);

  let closed = false;
  return {
    app,
    store,
    setFaults: (f) => faults.set(f),
    async close() {
      if (closed) return;
      closed = true;
      awarder?.close();
      sweeper.close();
      await webhooks.close();
      await hosted.close();
      try {
        await app.close();
      } finally {
        store.close();
      }
    },
  };
}
