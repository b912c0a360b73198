import { BazaarRunnerError, InvalidArgumentError } from "../errors.ts";

/** A ledger write refused because a newer lease epoch exists for the agent. */
export class StaleEpochError extends BazaarRunnerError {
  override name = "StaleEpochError";
  readonly agentId: string;
  readonly epoch: number;
  readonly current: number;

  constructor(agentId: string, epoch: number, current: number) {
    super(
      "BR_ERR_STALE_EPOCH",
      `ledger: write for agent ${agentId} under lease epoch ${epoch} refused; epoch ${current} exists`,
    );
    this.agentId = agentId;
    this.epoch = epoch;
    this.current = current;
  }
}

export function isStaleEpoch(error: unknown): error is StaleEpochError {
  return error instanceof StaleEpochError;
}

export function checkEpoch(epoch: number | undefined): void {
  if (epoch !== undefined && (!Number.isSafeInteger(epoch) || epoch < 0))
    throw new InvalidArgumentError("ledger: a lease epoch must be a non-negative integer");
}
