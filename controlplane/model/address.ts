// Endpoint addresses as the filter writes them into x-gateway-destination-endpoint and Envoy's
// ORIGINAL_DST cluster reads them back: "IP:port", IPv6 in brackets. Envoy connects to that IP without
// resolving names, so only IP literals are accepted.

import { isIP } from "node:net";

export function formatAddress(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function isValidPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** Parses "1.2.3.4:8000" or "[::1]:8000"; throws with a reason otherwise. */
export function parseAddress(address: string): { ip: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:[\]]+):(\d+)$/.exec(address);
  if (!m) throw new Error(`"${address}" is not IP:port (IPv6 as [addr]:port)`);
  const ip = m[1];
  const port = Number(m[2]);
  const fam = isIP(ip);
  if (fam === 0)
    throw new Error(
      `"${ip}" is not an IP literal (Envoy's ORIGINAL_DST cluster connects to the IP in the header; it does not resolve names)`,
    );
  if (fam === 6 && !address.startsWith("[")) throw new Error(`IPv6 address must be bracketed: "[${ip}]:${port}"`);
  if (!isValidPort(port)) throw new Error(`port ${m[2]} is not in 1..65535`);
  return { ip, port };
}
