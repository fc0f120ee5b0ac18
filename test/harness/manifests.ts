// What the Kubernetes tests share for reading manifests and for running the tools that check them
// (helm, eg-translate, openssl): one parser and one runner, not one copy per test file.

import { execFile } from "node:child_process";
import { parseAllDocuments } from "yaml";

/** One Kubernetes object as a manifest spells it. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
};

/** The objects of a multi-document YAML text; empty documents are left out. */
export function manifestDocs(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null && typeof d === "object");
}

export interface ToolRun {
  /** The exit code; 1 when the tool could not start, was killed, or ran past the time limit. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to its end (2 minutes at most) with `input` on its stdin; never rejects. */
export function runTool(bin: string, args: string[], input?: string): Promise<ToolRun> {
  return new Promise((res) => {
    const c = execFile(bin, args, { maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 1
        : 0;
      res({ code, stdout, stderr });
    });
    c.stdin?.end(input ?? "");
  });
}
