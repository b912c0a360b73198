/** One server-sent event as a client sees it. */
export interface SseFrame {
  event: string;
  data: string;
  comment: boolean;
}

function parseFrame(raw: string): SseFrame {
  let event = "message";
  const data: string[] = [];
  let comment = false;
  for (const line of raw.split("\n")) {
    if (line.startsWith(":")) comment = true;
    else if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { event, data: data.join("\n"), comment: comment && data.length === 0 };
}

/** Reads an event stream with fetch and a reader; `next` waits for a matching frame. */
export async function openEventStream(url: string, init: RequestInit = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  if (!response.body) throw new Error("event stream has no body");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const frames: SseFrame[] = [];
  let consumed = 0;

  async function pull(): Promise<void> {
    const { value, done } = await reader.read();
    if (done) throw new Error("event stream ended");
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
      frames.push(parseFrame(buffer.slice(0, end)));
      buffer = buffer.slice(end + 2);
    }
  }

  return {
    response,
    frames,
    /** The next frame (after those already returned) that matches. */
    async next(match: (frame: SseFrame) => boolean): Promise<SseFrame> {
      for (;;) {
        while (consumed < frames.length) {
          const frame = frames[consumed++]!;
          if (match(frame)) return frame;
        }
        await pull();
      }
    },
    close(): void {
      controller.abort();
    },
  };
}
