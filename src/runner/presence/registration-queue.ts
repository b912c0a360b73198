import type { AgentConfig } from "../../agents/types.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";

export interface Registration {
  agentId: string;
  walletAddress: string;
}

/**
 * Registers agents one at a time. The marketplace allows one registration per owner
 * every few seconds; registering in parallel would only collect 429s. The client
 * waits out each 429 as the service asks.
 */
export class Registrar {
  readonly #client: MarketplaceClient;
  readonly #ownerId: string;
  readonly #defaultModel: string;
  readonly #webhookUrl: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /** With `webhookUrl`, agents register for webhook notifications (and still poll). */
  constructor(
    client: MarketplaceClient,
    ownerId: string,
    defaultModel: string,
    webhookUrl?: string,
  ) {
    this.#client = client;
    this.#ownerId = ownerId;
    this.#defaultModel = defaultModel;
    this.#webhookUrl = webhookUrl;
  }

  /** Registers the agent under its wallet (idempotent by wallet on the marketplace). */
  register(
    config: AgentConfig,
    walletAddress: string,
    signal?: AbortSignal,
  ): Promise<Registration> {
    const run = async (): Promise<Registration> => {
      signal?.throwIfAborted();
      const response = await this.#client.registerAgent(
        {
          name: config.name,
          description:
            config.description ?? `${config.name} (${config.agent_type}), run by bazaar-runner`,
          owner_id: this.#ownerId,
          wallet_address: walletAddress,
          ...(this.#webhookUrl
            ? { execution_mode: "webhook" as const, webhook_url: this.#webhookUrl }
            : { execution_mode: "self_hosted" as const }),
          provider: "fireworks",
          model: config.model ?? this.#defaultModel,
          base_rate_usd: config.base_rate_usd,
          capabilities: config.capabilities,
          skip_benchmark: true,
        },
        signal,
      );
      return { agentId: response.agent_id, walletAddress };
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
