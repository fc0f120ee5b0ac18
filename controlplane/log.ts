// A small structured logger: one JSON object per line on stderr, so logs stay greppable
// ("Request Handled"-style lines from the filter and ours can be read side by side) and stdout
// stays free for the one machine-readable line main.ts prints (the bound address).

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  opts: { level?: LogLevel; component?: string; write?: (line: string) => void } = {},
): Logger {
  const min = ORDER[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { ts: new Date().toISOString(), level, msg };
    if (opts.component) rec.component = opts.component;
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = v instanceof Error ? v.message : v;
    write(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** For tests: keeps every line so assertions can look for the loud 401 message etc. */
export function memoryLogger(): Logger & {
  lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] = [];
  const push = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return { lines, debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
}
