// A JSON value as the tree parser (parser.ts) builds it, for the pushed table and the plugin
// configuration. Every value remembers its byte span in the input.
export enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: JsonValue[] | null = null; // Array elements
  keys: string[] | null = null; // Object member names, in order
  vals: JsonValue[] | null = null; // Object member values
  start: i32 = 0; // byte offset of the value's first byte
  end: i32 = 0; // byte offset just past the value

  get(key: string): JsonValue | null {
    const ks = this.keys;
    if (ks === null) return null;
    // Last duplicate wins, as in most JSON decoders.
    for (let i = ks.length - 1; i >= 0; i--) if (ks[i] == key) return this.vals![i];
    return null;
  }
  get isString(): bool {
    return this.kind == JsonKind.String;
  }
  get isNumber(): bool {
    return this.kind == JsonKind.Number;
  }
  get isArray(): bool {
    return this.kind == JsonKind.Array;
  }
  get isObject(): bool {
    return this.kind == JsonKind.Object;
  }
  get isBool(): bool {
    return this.kind == JsonKind.Bool;
  }
  get isNull(): bool {
    return this.kind == JsonKind.Null;
  }
  get length(): i32 {
    return this.items !== null ? this.items!.length : 0;
  }
  at(i: i32): JsonValue {
    return this.items![i];
  }
}

export function kindName(k: JsonKind): string {
  switch (k) {
    case JsonKind.Null:
      return "null";
    case JsonKind.Bool:
      return "boolean";
    case JsonKind.Number:
      return "number";
    case JsonKind.String:
      return "string";
    case JsonKind.Array:
      return "array";
    default:
      return "object";
  }
}

/** Numbers in messages as a person writes them: 1 not 1.0. */
export function fmtNum(n: f64): string {
  return n == Math.floor(n) && Math.abs(n) < 9007199254740992 ? (<i64>n).toString() : n.toString();
}
