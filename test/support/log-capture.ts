import { Writable } from "node:stream";
import { appendPrinted } from "./printed-log.ts";

/** Captures JSON log lines in memory so tests can read what the runner said. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    const text = chunk.toString("utf8");
    // Also to the run's printed log, which the global teardown checks for secrets.
    appendPrinted(text);
    this.lines.push(...text.split("\n").filter(Boolean));
    callback();
  }
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.join("\n");
  }
}
