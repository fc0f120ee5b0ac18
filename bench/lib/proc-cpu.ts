// CPU time of processes from /proc (Linux): utime + stime of every thread of the process, in
// seconds. The overhead scenario reads a gateway's processes before and after a load run and
// divides by the requests served: CPU per request is the figure that survives a noisy machine
// (wall-clock throughput does not, when other work shares the cores).
import { readFileSync } from "node:fs";

const CLK_TCK = 100; // USER_HZ: 100 on every Linux architecture Node runs on

/** utime + stime of one process (all its threads), seconds; null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may contain spaces and parentheses: fields start after the last ')'
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Sum over several processes (e.g. Envoy + an ext_proc server); null when any is gone. */
export function cpuSeconds(pids: number[]): number | null {
  let s = 0;
  for (const p of pids) {
    const v = processCpuSeconds(p);
    if (v === null) return null;
    s += v;
  }
  return s;
}
