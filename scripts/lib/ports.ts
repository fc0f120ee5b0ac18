// Loopback ports for the servers that tests, `make up` and the benchmarks start.
import { type AddressInfo, createServer } from "node:net";

/** A free loopback port, for servers that cannot report the port they bound (port 0) themselves. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
