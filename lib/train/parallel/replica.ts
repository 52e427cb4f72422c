/**
 * The main-thread handle of one data-parallel worker (`_worker.ts`): request/reply
 * matching by id, errors turned into rejections that name the worker, and shutdown.
 * @module
 */
import type { Reply, Request } from "./_protocol.ts";

interface Pending {
  resolve(r: Reply): void;
  reject(e: Error): void;
}

/** How long {@link Replica.close} waits for a polite exit before `terminate()`. */
const CLOSE_TIMEOUT_MS = 2000;

/** One worker replica. Requests are answered in order; a crash rejects everything pending. */
export class Replica {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;
  private terminated = false;

  constructor(readonly index: number) {
    this.worker = new Worker(new URL("./_worker.ts", import.meta.url).href, {
      type: "module",
      name: `parallel-${index}`,
    });
    this.worker.onmessage = (e: MessageEvent<Reply>) => this.onReply(e.data);
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault(); // handled here: do not let it take the main thread down
      this.fail(new Error(`DataParallelTrainer: worker ${index} crashed: ${e.message}`));
    };
    this.worker.onmessageerror = () => {
      this.fail(
        new Error(`DataParallelTrainer: worker ${index} sent a message that could not be read`),
      );
    };
  }

  /** Sends `req` (its id is assigned here) and resolves with the worker's reply to it. */
  request(req: Request, transfer: Transferable[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.terminated) {
      return Promise.reject(new Error(`DataParallelTrainer: worker ${this.index} is closed`));
    }
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  private onReply(msg: Reply): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.type === "error") {
      const err = new Error(`DataParallelTrainer: worker ${this.index} failed in ${msg.message}`);
      if (msg.stack) (err as Error & { workerStack?: string }).workerStack = msg.stack;
      p.reject(err);
    } else p.resolve(msg);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.terminate();
  }

  private terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.worker.terminate();
  }

  /** Asks the worker to free its model and exit, then terminates it (also when it does not answer). */
  async close(): Promise<void> {
    if (this.terminated) return;
    if (!this.failure) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((
        resolve,
      ) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)));
      await Promise.race([
        this.request({ type: "close", id: 0 }).then(() => {}, () => {}),
        timeout,
      ]);
      clearTimeout(timer);
    }
    this.terminate();
    for (const p of this.pending.values()) {
      p.reject(new Error(`DataParallelTrainer: worker ${this.index} was closed`));
    }
    this.pending.clear();
  }
}
