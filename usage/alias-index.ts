import { toCount, toQuantity } from './attribute-read.js';
import type { Attributes } from './span-record.js';

/**
 * How a field's alias counts as present, and how its value is read:
 * - `string`: a non-empty string, a number or a boolean (stringified: some SDKs send ids as ints);
 * - `count`: any value but null (a whole, non-negative count, else the span is malformed);
 * - `quantity`: any value (a non-negative number, else the span is malformed).
 */
export type FieldKind = 'string' | 'count' | 'quantity';

export interface FieldSpec {
  /** Alias keys, in priority order: the first one present wins. */
  readonly keys: readonly string[];
  readonly kind: FieldKind;
}

const ABSENT = 0x7fffffff;

/**
 * Reads fields that each have an ordered list of alias keys from an attribute object, in one pass
 * over its own keys with one Map lookup per key. Probing every alias of every field instead costs
 * some 130 property lookups per span, nearly all of them misses (a miss also searches the
 * prototype chain): that was most of the mapper's time.
 */
export class AliasIndex {
  /** Per key: the fields it is an alias of, as (field, rank) pairs. */
  readonly #slots = new Map<string, number[]>();
  readonly #specs: readonly FieldSpec[];
  readonly #kinds: readonly FieldKind[];
  readonly #prefix: string;

  /** `prefix`: read() also tells whether a key starts with it (keys read by prefix, not by name). */
  constructor(specs: readonly FieldSpec[], prefix: string) {
    this.#specs = specs;
    this.#prefix = prefix;
    this.#kinds = specs.map((spec) => spec.kind);
    specs.forEach((spec, field) => spec.keys.forEach((key, rank) => {
      const slots = this.#slots.get(key);
      // A key listed twice for one field keeps its first (best) rank.
      if (slots === undefined) this.#slots.set(key, [field, rank]);
      else if (!isListed(slots, field)) slots.push(field, rank);
    }));
  }

  /** A holder for read(): reused from span to span by its owner. */
  found(): FoundFields {
    return new FoundFields(this.#specs);
  }

  /** Finds each field's winning alias in `attrs`, into `found` (returned). */
  read(attrs: Attributes, found: FoundFields): FoundFields {
    const { ranks, values } = found;
    ranks.fill(ABSENT);
    values.fill(undefined);
    found.prefixed = false;
    const kinds = this.#kinds;
    for (const key in attrs) {
      if (key.startsWith(this.#prefix)) found.prefixed = true;
      const slots = this.#slots.get(key);
      if (slots === undefined) continue;
      const value = attrs[key];
      if (value === undefined) continue;
      for (let i = 0; i < slots.length; i += 2) {
        const field = slots[i]!;
        const rank = slots[i + 1]!;
        if (rank < ranks[field]! && isPresent(kinds[field]!, value)) {
          ranks[field] = rank;
          values[field] = value;
        }
      }
    }
    return found;
  }
}

/** Per field, the value of its winning alias (and which alias that was, for error messages). */
export class FoundFields {
  readonly ranks: number[];
  readonly values: unknown[];
  /** Whether a key starts with the index's prefix. */
  prefixed = false;
  readonly #specs: readonly FieldSpec[];

  constructor(specs: readonly FieldSpec[]) {
    this.#specs = specs;
    this.ranks = new Array<number>(specs.length).fill(ABSENT);
    this.values = new Array<unknown>(specs.length).fill(undefined);
  }

  /** A `string` field's value; undefined when no alias is present. */
  string(field: number): string | undefined {
    const value = this.values[field];
    return value === undefined ? undefined : typeof value === 'string' ? value : String(value);
  }

  /** A `count` field's value; undefined when no alias is present; throws MalformedSpanError when it is not a count. */
  count(field: number): number | undefined {
    const value = this.values[field];
    return value === undefined ? undefined : toCount(this.#keyOf(field), value);
  }

  /** A `quantity` field's value; undefined when no alias is present; throws MalformedSpanError when it is not one. */
  quantity(field: number): number | undefined {
    const value = this.values[field];
    return value === undefined ? undefined : toQuantity(this.#keyOf(field), value);
  }

  #keyOf(field: number): string {
    return this.#specs[field]!.keys[this.ranks[field]!]!;
  }
}

function isPresent(kind: FieldKind, value: unknown): boolean {
  if (kind === 'string') return typeof value === 'string' ? value !== '' : typeof value === 'number' || typeof value === 'boolean';
  return kind === 'quantity' || value !== null;
}

function isListed(slots: readonly number[], field: number): boolean {
  for (let i = 0; i < slots.length; i += 2) if (slots[i] === field) return true;
  return false;
}
