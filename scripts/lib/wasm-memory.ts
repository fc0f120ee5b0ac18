// The wasm VMs' linear memory of a running Envoy (V8), read from /proc/<pid>/smaps: Envoy's admin
// has no wasm memory statistic. V8 reserves 8 GiB of address space per wasm memory and makes its
// head accessible as the memory grows; the read-write mapping right before each such reservation is
// one VM's linear memory (mapped size = pages the module grew to, Rss = pages touched). Used by the
// soak run and by the tests that bound what the filter holds.
import { readFileSync } from "node:fs";

export interface WasmMemory {
  vms: number;
  /** Bytes the linear memories grew to, all VMs together. */
  mappedBytes: number;
  /** Bytes of them resident. */
  residentBytes: number;
}

/** The wasm linear memories of a V8 process, read from its smaps (see the header). */
export function wasmMemory(pid: number): WasmMemory {
  const maps = readFileSync(`/proc/${pid}/smaps`, "utf8").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const parsed = maps.map((b) => {
    const [range = "", perm = ""] = b.slice(0, b.indexOf("\n")).split(" ");
    const [a = "0", z = "0"] = range.split("-");
    return {
      start: BigInt(`0x${a}`),
      end: BigInt(`0x${z}`),
      perm,
      rssKb: Number(/\nRss:\s+(\d+) kB/.exec(b)?.[1] ?? 0),
    };
  });
  const out: WasmMemory = { vms: 0, mappedBytes: 0, residentBytes: 0 };
  for (let i = 1; i < parsed.length; i++) {
    const r = parsed[i]!;
    const head = parsed[i - 1]!;
    if (r.perm === "---p" && r.end - r.start >= 1n << 32n && head.perm === "rw-p" && head.end === r.start) {
      out.vms++;
      out.mappedBytes += Number(head.end - head.start);
      out.residentBytes += head.rssKb * 1024;
    }
  }
  return out;
}
