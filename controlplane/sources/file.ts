// The file source: a YAML file standing in for the cluster. It holds the seed's InferencePool /
// InferenceModel / InferenceTrafficPolicy documents exactly as written there, plus StaticEndpoints
// (our stand-in for Pods: simulator pods listen on random loopback ports, so each gives a full address)
// or plain Pod objects. Multi-document YAML, a top-level list, and `kind: List` with `items` all work.
//
// Hot reload: fs.watch on the directory (editors and `kubectl`-style tools replace the file by rename,
// which a watch on the file itself would miss) plus a polling fallback for filesystems without
// inotify. A file that cannot be read or parsed keeps the last good model and says why.

import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import type { Logger } from "../log.js";
import type { ModelStore, SourceDocument } from "../model/store.js";
import type { Problem } from "../model/types.js";
import { isObj } from "../model/validate.js";

export class FileSourceError extends Error {
  override name = "FileSourceError";
}

/** Aliases expanded per document at most: a few anchors referencing each other ("billion laughs")
 *  would otherwise expand to more memory than the process has. */
const MAX_ALIAS_COUNT = 100;

/** Parses the file's text into documents; throws FileSourceError with line:column on a YAML error. */
export function parseYamlDocuments(text: string, fileName: string): SourceDocument[] {
  const out: SourceDocument[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true });
  // For empty input parseAllDocuments returns an EmptyStream, which is an empty array.
  let index = 0;
  for (const doc of docs) {
    index++;
    if (doc.errors?.length) {
      const e = doc.errors[0];
      const pos = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "unknown position";
      throw new FileSourceError(
        `${fileName}: YAML error in document #${index} at ${pos}: ${String(e.message)
          .split("\n")[0]
          .replace(/ at line \d+, column \d+:?$/, "")}`,
      );
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // yaml throws a plain ReferenceError past maxAliasCount: a broken file like any other, not a crash.
      throw new FileSourceError(
        `${fileName}: YAML error in document #${index}: ${(e as Error).message} (at most ${MAX_ALIAS_COUNT} aliases)`,
      );
    }
    if (value === null || value === undefined) continue; // empty document between `---` separators
    const items: { raw: unknown; origin: string }[] = [];
    if (Array.isArray(value))
      value.forEach((v, i) => items.push({ raw: v, origin: `${fileName} document #${index} item #${i + 1}` }));
    else if (isObj(value) && value.kind === "List" && Array.isArray(value.items))
      value.items.forEach((v, i) => items.push({ raw: v, origin: `${fileName} document #${index} items[${i}]` }));
    else items.push({ raw: value, origin: `${fileName} document #${index}` });
    out.push(...items);
  }
  return out;
}

export interface FileSourceOptions {
  path: string;
  store: ModelStore;
  logger: Logger;
  /** Polling fallback period (ms). */
  pollIntervalMs?: number;
  /** Coalesces the burst of events one save produces (ms). */
  debounceMs?: number;
  /** Store source name. */
  sourceName?: string;
}

export interface FileSourceStatus {
  path: string;
  loads: number;
  lastLoadedAtMs: number | null;
  /** Why the current file content is not in force (the last good one is), or null. */
  lastError: string | null;
  problems: Problem[];
}

export class FileSource {
  readonly path: string;
  private watcher: FSWatcher | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  private lastHash: string | null = null;
  private reading: Promise<void> | null = null;
  private rereadRequested = false;
  private stopped = false;
  readonly status: FileSourceStatus;

  constructor(private readonly opts: FileSourceOptions) {
    this.path = resolve(opts.path);
    this.status = { path: this.path, loads: 0, lastLoadedAtMs: null, lastError: null, problems: [] };
  }

  /** Reads the file once (throws if it is missing or broken: there is no last good model yet), then watches. */
  async start(): Promise<void> {
    const text = await readFile(this.path, "utf8").catch((e: NodeJS.ErrnoException) => {
      throw new FileSourceError(`${this.path}: cannot read: ${e.code === "ENOENT" ? "no such file" : e.message}`);
    });
    this.apply(text); // throws FileSourceError on bad YAML
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name === null || name === basename(this.path)) this.schedule();
      });
      this.watcher.on("error", (e) =>
        this.opts.logger.warn("file watch failed; polling continues", { path: this.path, error: e }),
      );
    } catch (e) {
      this.opts.logger.warn("fs.watch unavailable; relying on polling", { path: this.path, error: e });
    }
    const poll = this.opts.pollIntervalMs ?? 1000;
    this.pollTimer = setInterval(() => this.schedule(0), poll);
    this.pollTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
  }

  /**
   * Re-reads now (tests, SIGHUP). Resolves when the read is applied or rejected. From the timers
   * (`settled`), a file modified within the debounce window is read again once it has settled.
   */
  async reload(settled = false): Promise<void> {
    if (this.reading) {
      this.rereadRequested = true;
      await this.reading;
    }
    this.reading = this.readAndApply(settled).finally(() => {
      this.reading = null;
    });
    await this.reading;
    if (this.rereadRequested) {
      this.rereadRequested = false;
      await this.reload(settled);
    }
  }

  private schedule(delay = this.opts.debounceMs ?? 30): void {
    if (this.stopped) return;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      void this.reload(true);
    }, delay);
    this.debounceTimer.unref();
  }

  private async readAndApply(settled: boolean): Promise<void> {
    if (this.stopped) return;
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
      // A file written in place (truncated, then written: shells, some editors, writeFileSync) can
      // be read half-way, and half a YAML file is often valid YAML: pools or models would vanish
      // for a moment. A file modified within the debounce window is read again once it settled.
      const window = this.opts.debounceMs ?? 30;
      if (settled && Date.now() - (await stat(this.path)).mtimeMs < window) {
        this.schedule(window);
        return;
      }
    } catch (e) {
      this.reject(
        `cannot read: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file (deleted or being replaced)" : (e as Error).message}`,
      );
      return;
    }
    // Whatever goes wrong, the last good model stays: reload() runs from timers (schedule), where a
    // rejection would end the process.
    try {
      this.apply(text);
    } catch (e) {
      this.reject(e instanceof FileSourceError ? e.message : `cannot apply: ${String(e)}`);
    }
  }

  private reject(why: string): void {
    if (this.status.lastError !== why)
      this.opts.logger.error("file source: keeping the last good model", { path: this.path, reason: why });
    this.status.lastError = why;
  }

  /** Applies the text if it differs from what is in force. */
  private apply(text: string): void {
    const hash = createHash("sha256").update(text).digest("hex");
    if (hash === this.lastHash) {
      if (this.status.lastError) {
        this.opts.logger.info("file source: file is back to the content in force", { path: this.path });
        this.status.lastError = null;
      }
      return;
    }
    const docs = parseYamlDocuments(text, basename(this.path));
    const { problems } = this.opts.store.replaceSource(this.opts.sourceName ?? `file:${this.path}`, docs);
    this.lastHash = hash;
    this.status.loads++;
    this.status.lastLoadedAtMs = Date.now();
    this.status.lastError = null;
    this.status.problems = problems;
    this.opts.logger.info("file source: loaded", {
      path: this.path,
      documents: docs.length,
      problems: problems.length,
    });
    for (const p of problems)
      this.opts.logger[p.level === "error" ? "error" : "warn"]("file source: document problem", { ...p });
  }
}
