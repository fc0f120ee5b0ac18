// Field-by-field readers that collect every problem of a document instead of stopping at the first,
// so one edit can fix them all. Each problem names the field by its path and says why.

export class DocumentInvalid extends Error {
  override name = "DocumentInvalid";
  constructor(
    readonly document: string,
    readonly issues: { field: string; message: string }[],
  ) {
    super(`${document}: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`);
  }
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export class FieldReader {
  constructor(
    readonly document: string,
    readonly issues: { field: string; message: string }[] = [],
    private readonly prefix = "",
  ) {}

  /** A reader for a nested value (a list item, say) that reports full paths into the same issue list. */
  at(path: string): FieldReader {
    return new FieldReader(this.document, this.issues, `${this.prefix}${path}.`);
  }

  fail(field: string, message: string): undefined {
    this.issues.push({ field: field ? `${this.prefix}${field}` : this.prefix.slice(0, -1), message });
    return undefined;
  }

  /** Walks a dotted path; reports a non-object on the way. Returns undefined when absent. */
  get(root: unknown, path: string): unknown {
    let cur: unknown = root;
    const parts = path.split(".");
    for (let i = 0; i < parts.length; i++) {
      if (cur === undefined || cur === null) return undefined;
      if (!isObj(cur)) return this.fail(parts.slice(0, i).join("."), `must be a mapping, got ${describe(cur)}`);
      cur = cur[parts[i]];
    }
    return cur;
  }

  object(root: unknown, path: string, required = false): Obj | undefined {
    const v = this.get(root, path);
    if (v === undefined || v === null) return required ? this.fail(path, "is required") : undefined;
    if (!isObj(v)) return this.fail(path, `must be a mapping, got ${describe(v)}`);
    return v;
  }

  string(root: unknown, path: string, opts: { required?: boolean; maxLength?: number } = {}): string | undefined {
    const v = this.get(root, path);
    if (v === undefined || v === null) return opts.required ? this.fail(path, "is required") : undefined;
    if (typeof v !== "string") return this.fail(path, `must be a string, got ${describe(v)}`);
    if (opts.required && v.length === 0) return this.fail(path, "must not be empty");
    if (opts.maxLength !== undefined && v.length > opts.maxLength)
      return this.fail(path, `must be at most ${opts.maxLength} characters`);
    return v;
  }

  integer(
    root: unknown,
    path: string,
    opts: { required?: boolean; min?: number; max?: number } = {},
  ): number | undefined {
    const v = this.get(root, path);
    if (v === undefined || v === null) return opts.required ? this.fail(path, "is required") : undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) return this.fail(path, `must be an integer, got ${describe(v)}`);
    if (opts.min !== undefined && v < opts.min) return this.fail(path, `must be >= ${opts.min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) return this.fail(path, `must be <= ${opts.max}, got ${v}`);
    return v;
  }

  boolean(root: unknown, path: string): boolean | undefined {
    const v = this.get(root, path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") return this.fail(path, `must be true or false, got ${describe(v)}`);
    return v;
  }

  /** A map of string to string (labels, annotations, v1alpha2 selectors). */
  stringMap(
    root: unknown,
    path: string,
    opts: { required?: boolean; hint?: string } = {},
  ): Record<string, string> | undefined {
    const v = this.object(root, path, opts.required);
    if (!v) return undefined;
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val === "string") out[k] = val;
      // YAML turns `key: 8000` or `key: true` into numbers/booleans; Kubernetes would reject those too.
      else
        this.fail(
          `${path}[${JSON.stringify(k)}]`,
          `must be a string, got ${describe(val)}${opts.hint ? ` (${opts.hint})` : ""}`,
        );
    }
    return out;
  }

  done(): void {
    if (this.issues.length) throw new DocumentInvalid(this.document, this.issues);
  }
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}
