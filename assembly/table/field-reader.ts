// Typed reads of a decoded JSON object's fields for the table decoders: each read checks the
// field's kind and range and records the first problem with its path
// (table.pools[0].endpoints[2].kvUsage: ...); later reads after a problem return defaults.
import { fmtNum, JsonKind, JsonValue, kindName } from "../json/value";

export class Reader {
  error: string = "";
  fail(path: string, msg: string): void {
    if (this.error.length == 0) this.error = `${path}: ${msg}`;
  }
  get failed(): bool {
    return this.error.length > 0;
  }
  /** fail() with the offending value quoted after the message. */
  failGot(path: string, msg: string, got: string): void {
    this.fail(path, msg + ', got "' + got + '"');
  }

  field(obj: JsonValue, key: string, kind: JsonKind, path: string, required: bool = true): JsonValue | null {
    const v = obj.get(key);
    if (v === null) {
      if (required) this.fail(`${path}.${key}`, "required");
      return null;
    }
    if (v.kind != kind) {
      const name = kindName(kind);
      const article = name == "array" || name == "object" ? "an" : "a";
      this.fail(`${path}.${key}`, `must be ${article} ${name}, got ${kindName(v.kind)}`);
      return null;
    }
    return v;
  }
  /** Like field(), but JSON null counts as absent (optional fields the control plane may null). */
  optional(obj: JsonValue, key: string, kind: JsonKind, path: string): JsonValue | null {
    const v = obj.get(key);
    if (v === null || v.isNull) return null;
    return this.field(obj, key, kind, path, false);
  }
  str(obj: JsonValue, key: string, path: string, def: string = "", required: bool = true): string {
    const v = this.field(obj, key, JsonKind.String, path, required);
    return v === null ? def : v.s;
  }
  num(obj: JsonValue, key: string, path: string, min: f64, max: f64, def: f64 = 0, required: bool = true): f64 {
    const v = this.field(obj, key, JsonKind.Number, path, required);
    if (v === null) return def;
    if (!(v.n >= min && v.n <= max)) {
      this.fail(`${path}.${key}`, `must be in [${fmtNum(min)}, ${fmtNum(max)}], got ${fmtNum(v.n)}`);
      return def;
    }
    return v.n;
  }
  int(obj: JsonValue, key: string, path: string, min: f64, max: f64, def: f64 = 0, required: bool = true): i32 {
    const n = this.num(obj, key, path, min, max, def, required);
    if (n != Math.floor(n)) {
      this.fail(`${path}.${key}`, "must be an integer");
      return <i32>def;
    }
    return <i32>n;
  }
  bool(obj: JsonValue, key: string, path: string, def: bool = false, required: bool = true): bool {
    const v = this.field(obj, key, JsonKind.Bool, path, required);
    return v === null ? def : v.b;
  }
}

/** "path.key[i]": where list element i is. One function, so call sites stay small. */
export function elementPath(path: string, key: string, i: i32): string {
  return path + "." + key + "[" + i.toString() + "]";
}
