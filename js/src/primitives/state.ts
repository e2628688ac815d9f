/**
 * State cells: `db.state`, and `db.state.forRun(runId)` for the cells of one run. A cell is a
 * named value with a version (the position of its last write); `cas` and `transition` are
 * checked in commit order against the in-memory version, so concurrent writers never lose an
 * update. A cell may have a state machine (state-machine.ts). Values live in the log; the
 * index keeps each cell's position and a bounded cache of values.
 */
import { ConflictError, InvalidArgumentError, StoreClosedError } from '../errors.js';
import type { Prepared } from '../engine/commit.js';
import type { PrimitiveContext, PrimitiveInstance, PrimitiveSpec, RecoveredEntry } from '../engine/primitive.js';
import { Invalid, Reader, Writer } from '../engine/section-codec.js';
import { checkName, normalizeName } from '../names.js';
import { checkFunction, checkOptions, describe, jsonText, type OptionKeys } from '../validate.js';
import { namedEntryId } from './named-entry.js';
import { decodeStateEntry, KIND_STATE_DELETED, KIND_STATE_WRITTEN, readValue, stateEntryExactBytes, stateEntryMaxBytes, storedSize, writeStateEntry, type StateOperation, type StoredValue } from './state-codec.js';
import { checkMachine, checkMachineWrite, type Machine, type MachineDefinition } from './state-machine.js';

export type { MachineDefinition } from './state-machine.js';

/** A cell as read: its value (JSON, or a Uint8Array) and version (the position of its last write). */
export interface StateCell<T = unknown> {
  value: T;
  version: number;
}

export type CasResult<T = unknown> = { ok: true; version: number } | { ok: false; current: StateCell<T> | undefined };

export interface TransitionOptions {
  /** How many times to re-read and try again when another write changed the cell meanwhile (default 5). */
  retries?: number;
}

export interface DeleteCellOptions {
  /** Delete only if the cell is at this version (otherwise ConflictError, nothing written). */
  expectedVersion?: number;
}

export interface ListCellsOptions {
  /** Only cells whose name starts with this. */
  prefix?: string;
  /** At most this many (default: all). */
  limit?: number;
}

const TRANSITION_KEYS: OptionKeys<TransitionOptions> = { retries: true };
const DELETE_KEYS: OptionKeys<DeleteCellOptions> = { expectedVersion: true };
const LIST_KEYS: OptionKeys<ListCellsOptions> = { prefix: true, limit: true };

/** Cell names: 1 to 1,024 UTF-8 bytes in NFC (the shared name policy). */
export const MAX_CELL_NAME_BYTES = 1024;
/** Run ids go in the named entry's id field: 1 to 255 bytes. */
const MAX_RUN_ID_BYTES = 255;
/** Values kept in memory, by encoded size (older, acknowledged ones are evicted first; reads of the others go to the log). */
const CACHE_BYTES = 8 << 20;
const DEFAULT_RETRIES = 5;
const BINARY_HINT = 'binary values must be a Uint8Array: pass new Uint8Array(buffer)';
const encoder = new TextEncoder();

interface Cell {
  readonly name: string;
  readonly nameBytes: Uint8Array;
  /** '' for a store-wide cell. */
  readonly runId: string;
  /** Position of the cell's last write: its version. */
  position: number;
  /** The value, when cached. */
  stored: StoredValue | undefined;
}

/** A value checked and encoded for writing. */
interface Encoded {
  /** What the machine check sees (the value after `redact`). */
  value: unknown;
  stored: StoredValue;
}

/** What a write expects of the cell's version. */
type Expect =
  | { kind: 'absent' } // init: ConflictError when it exists
  | { kind: 'any' } // set
  | { kind: 'version'; version: number | null; soft: boolean }; // cas/transition (soft: a mismatch resolves { ok: false }), delete (ConflictError)

type WriteResult = { ok: true; version: number; stored: StoredValue | undefined } | { ok: false; current: StateCell | undefined };

/** The primitive instance: the index of every scope's cells, the value cache and the machines. */
export class StateIndex implements PrimitiveInstance<State> {
  /** Run id ('' store-wide) → cell name → cell. */
  private readonly scopes = new Map<string, Map<string, Cell>>();
  /** Run id ('' store-wide) → cell name → machine; a run's own definition comes before the store-wide one. */
  private readonly machines = new Map<string, Map<string, Machine>>();
  /** Cached cells, oldest use first. */
  private readonly cache = new Map<Cell, number>();
  private cachedBytes = 0;
  private readonly waiters = new Set<{ position: number; resolve(): void; reject(error: unknown): void }>();
  private closed = false;
  readonly api: State;

  constructor(readonly context: PrimitiveContext) {
    this.api = new State(this, '');
    context.onAcknowledged((position) => {
      for (const waiter of this.waiters) {
        if (waiter.position < position) {
          this.waiters.delete(waiter);
          waiter.resolve();
        }
      }
    });
    context.onFailed((failure) => this.rejectWaiters(failure));
  }

  private rejectWaiters(error: unknown): void {
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }

  // ---- the index ------------------------------------------------------------------------

  cell(runId: string, name: string): Cell | undefined {
    return this.scopes.get(runId)?.get(name);
  }

  knownName(runId: string, name: string): Uint8Array | undefined {
    return this.scopes.get(runId)?.get(name)?.nameBytes;
  }

  private put(runId: string, name: string, nameBytes: Uint8Array, position: number, stored: StoredValue | undefined): void {
    let scope = this.scopes.get(runId);
    if (!scope) this.scopes.set(runId, (scope = new Map()));
    const old = scope.get(name);
    if (old) this.uncache(old);
    const cell: Cell = { name, nameBytes: old?.nameBytes ?? nameBytes, runId, position, stored: undefined };
    scope.set(name, cell);
    if (stored) this.remember(cell, stored);
  }

  private remove(runId: string, name: string): void {
    const scope = this.scopes.get(runId);
    const cell = scope?.get(name);
    if (!scope || !cell) return;
    this.uncache(cell);
    scope.delete(name);
    if (scope.size === 0) this.scopes.delete(runId);
  }

  private remember(cell: Cell, stored: StoredValue): void {
    this.uncache(cell);
    const size = storedSize(stored);
    cell.stored = stored;
    this.cache.set(cell, size);
    this.cachedBytes += size;
    if (this.cachedBytes <= CACHE_BYTES) return;
    // Only values reads can find in the log may go: a prepare needs the others synchronously.
    const readable = this.context.acknowledgedPosition;
    for (const [old] of this.cache) {
      if (this.cachedBytes <= CACHE_BYTES) break;
      if (old.position < readable && old !== cell) this.uncache(old);
    }
  }

  private uncache(cell: Cell): void {
    const size = this.cache.get(cell);
    if (size === undefined) return;
    this.cache.delete(cell);
    this.cachedBytes -= size;
    cell.stored = undefined;
  }

  private touch(cell: Cell): void {
    const size = this.cache.get(cell);
    if (size === undefined) return;
    this.cache.delete(cell);
    this.cache.set(cell, size);
  }

  machineFor(runId: string, name: string): Machine | undefined {
    return this.machines.get(runId)?.get(name) ?? (runId === '' ? undefined : this.machines.get('')?.get(name));
  }

  defineMachine(runId: string, name: string, machine: Machine): void {
    let scope = this.machines.get(runId);
    if (!scope) this.machines.set(runId, (scope = new Map()));
    scope.set(name, machine);
  }

  /** Resolves once entries up to `position` are acknowledged (a read of it sees what was written). */
  private whenReadable(position: number): Promise<void> {
    if (position < this.context.acknowledgedPosition) return Promise.resolve();
    if (this.closed) return Promise.reject(new StoreClosedError());
    const failure = this.context.failure;
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => this.waiters.add({ position, resolve, reject }));
  }

  /** The cell's value at its current position, from the cache or the log; undefined when the cell changed meanwhile (the caller looks again). */
  private async load(cell: Cell): Promise<StoredValue | undefined> {
    const position = cell.position;
    await this.whenReadable(position);
    if (cell.stored && cell.position === position) return cell.stored;
    let stored: StoredValue | undefined;
    await this.context.readPositions([position], (_position, bytes, start, length) => {
      // An entry a prune removed meanwhile (the cell was overwritten or deleted) reads empty.
      if (length === 0) return;
      const entry = decodeStateEntry(bytes, start, length);
      readValue(entry.value); // its JSON parses (MalformedEntry, a CorruptionError at the entry, otherwise)
      stored = entry.value;
    });
    if (stored && cell.position === position && this.cell(cell.runId, cell.name) === cell) this.remember(cell, stored);
    return stored;
  }

  /** The cell as a read returns it: acknowledged writes only. */
  async read(runId: string, name: string): Promise<StateCell | undefined> {
    for (;;) {
      const cell = this.cell(runId, name);
      if (!cell) return undefined;
      if (cell.position >= this.context.acknowledgedPosition) {
        await this.whenReadable(cell.position);
        continue;
      }
      const position = cell.position;
      let stored = cell.stored;
      if (stored) this.touch(cell);
      else stored = await this.load(cell);
      if (stored) return { value: readValue(stored), version: position };
    }
  }

  /** Cells of a scope with their versions, by name (acknowledged writes only). */
  async list(runId: string, prefix: string, limit: number): Promise<{ name: string; version: number }[]> {
    for (;;) {
      const scope = this.scopes.get(runId);
      if (!scope) return [];
      const cells = [...scope.values()].filter((cell) => cell.name.startsWith(prefix));
      const newest = cells.reduce((max, cell) => Math.max(max, cell.position), -1);
      if (newest >= this.context.acknowledgedPosition) {
        await this.whenReadable(newest);
        continue;
      }
      return cells
        .map((cell) => ({ name: cell.name, version: cell.position }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .slice(0, limit);
    }
  }

  // ---- writes -----------------------------------------------------------------------------

  /**
   * Writes (or deletes, `encoded` undefined) one cell in commit order: checks `expect` and the
   * cell's machine against the current state at that point, then stages the entry.
   */
  write(runId: string, name: string, nameBytes: Uint8Array, operation: StateOperation, encoded: Encoded | undefined, expect: Expect): Promise<WriteResult> {
    let loaded: { position: number; stored: StoredValue | undefined } | undefined;
    const scopeRun = runId === '' ? undefined : runId;
    return this.context.submit<WriteResult>({
      prepare: (firstPosition, writer): Prepared<WriteResult> => {
        const cell = this.cell(runId, name);
        const version = cell ? cell.position : null;
        // The current value, when a check needs it (cached, or read once and prepared again).
        const current = (): StoredValue | { wait: Promise<void> } => {
          if (cell!.stored) return cell!.stored;
          if (loaded?.position === cell!.position && loaded.stored) return loaded.stored;
          const position = cell!.position;
          return { wait: this.load(cell!).then((stored) => void (loaded = { position, stored })) };
        };
        if (expect.kind === 'absent' && cell) {
          throw new ConflictError(`${where(name, scopeRun)} already exists (version ${cell.position}); init creates a cell once: use set, cas or transition to change it; nothing was written`);
        }
        if (expect.kind === 'version' && expect.version !== version) {
          if (!expect.soft) throw new ConflictError(`${where(name, scopeRun)}: expected version ${expect.version} but ${cell ? `it is at version ${cell.position}` : 'it does not exist'}; nothing was written`);
          if (!cell) return { done: { ok: false, current: undefined } };
          const value = current();
          if ('wait' in value) return value;
          return { done: { ok: false, current: { value: readValue(value), version: cell.position } } };
        }
        if (!encoded) {
          // A delete: nothing to do when there is no cell.
          if (!cell) return { done: { ok: true, version: -1, stored: undefined } };
          writeStateEntry(writer, cell.nameBytes, runId, operation, undefined, cell.position + 1, Date.now());
          return {
            count: 1,
            apply: () => {
              this.remove(runId, name);
              if (runId !== '') this.context.attribute(runId, firstPosition);
            },
            result: () => ({ ok: true, version: version!, stored: undefined }),
          };
        }
        const machine = this.machineFor(runId, name);
        if (machine) {
          let from: unknown;
          if (cell) {
            const value = current();
            if ('wait' in value) return value;
            from = readValue(value);
          }
          checkMachineWrite(machine, name, scopeRun, operation === 'init' ? 'init' : 'write', cell !== undefined, from, encoded.value);
        }
        writeStateEntry(writer, cell?.nameBytes ?? nameBytes, runId, operation, encoded.stored, cell ? cell.position + 1 : 0, Date.now());
        return {
          count: 1,
          apply: () => {
            this.put(runId, name, nameBytes, firstPosition, encoded.stored);
            if (runId !== '') this.context.attribute(runId, firstPosition);
          },
          result: (position) => ({ ok: true, version: position, stored: encoded.stored }),
        };
      },
    });
  }

  /** Checks and encodes a value for a write (InvalidArgumentError naming what is wrong: nothing written). */
  encode(where: string, name: Uint8Array, runId: string, value: unknown): Encoded {
    const redacted = this.context.redact(value, { primitive: 'state', field: 'value' });
    let stored: StoredValue;
    if (redacted instanceof Uint8Array) stored = { bytes: redacted.slice() };
    else stored = { text: jsonText(redacted, `${where}: value`, BINARY_HINT).text };
    const limit = this.context.options.maxEventBytes;
    let size = stateEntryMaxBytes(name, runId, stored);
    if (size > limit) {
      size = stateEntryExactBytes(name, runId, stored);
      if (size > limit) throw new InvalidArgumentError(`${where}: the value is about ${size} bytes encoded, over the limit of ${limit} (maxEventBytes); store large blobs elsewhere and keep a reference in the cell`);
    }
    return { value: redacted, stored };
  }

  // ---- the primitive contract -----------------------------------------------------------

  /** @internal */
  recover(entry: RecoveredEntry): string | undefined {
    const name = entry.name;
    if (name === undefined || (entry.kind !== KIND_STATE_WRITTEN && entry.kind !== KIND_STATE_DELETED)) return undefined;
    const runId = namedEntryId(entry.payload(), 0);
    if (entry.kind === KIND_STATE_WRITTEN) this.put(runId, name, encoder.encode(name), entry.position, undefined);
    else this.remove(runId, name);
    if (runId !== '') this.context.attribute(runId, entry.position);
    return undefined;
  }

  /** @internal every cell in position order: run id, name, position. */
  captureSection(): Uint8Array {
    const writer = new Writer();
    const cells = this.cells();
    writer.u32(cells.length);
    for (const cell of cells) {
      const runId = encoder.encode(cell.runId);
      writer.u32(runId.length);
      writer.raw(runId);
      writer.align(4);
      writer.u32(cell.nameBytes.length);
      writer.raw(cell.nameBytes);
      writer.align(8);
      writer.f64(cell.position);
    }
    return writer.done();
  }

  /** @internal */
  restoreSection(bytes: Uint8Array): void {
    this.scopes.clear();
    this.cache.clear();
    this.cachedBytes = 0;
    if (bytes.length === 0) return;
    const reader = new Reader(bytes);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const text = (raw: Uint8Array, what: string) => {
      try {
        return decoder.decode(raw);
      } catch {
        throw new Invalid(`a state cell's ${what} is not UTF-8`);
      }
    };
    const count = reader.u32();
    for (let index = 0; index < count; index++) {
      const runId = text(reader.raw(reader.u32()), 'run id');
      reader.align(4);
      const nameBytes = reader.raw(reader.u32()).slice();
      const name = text(nameBytes, 'name');
      if (nameBytes.length === 0 || nameBytes.length > 0xffff || encoder.encode(runId).length > MAX_RUN_ID_BYTES) throw new Invalid(`state cell ${index} has a name of ${nameBytes.length} bytes or a run id too long`);
      reader.align(8);
      const position = reader.f64();
      if (this.cell(runId, name)) throw new Invalid(`state cell '${name}' (run '${runId}') is listed twice`);
      this.put(runId, name, nameBytes, position, undefined);
    }
    reader.end();
  }

  private cells(): Cell[] {
    const cells: Cell[] = [];
    for (const scope of this.scopes.values()) for (const cell of scope.values()) cells.push(cell);
    return cells.sort((a, b) => a.position - b.position);
  }

  /** @internal the current value of every cell is live; overwritten values and delete records are not. */
  markLive(mark: (position: number) => void): void {
    for (const scope of this.scopes.values()) for (const cell of scope.values()) mark(cell.position);
  }

  /** @internal every cell with its version and value (tests compare it across reopen, snapshot and prune). */
  async fingerprint(): Promise<unknown> {
    const prints: { runId: string; name: string; version: number; value: unknown }[] = [];
    for (const cell of this.cells()) {
      let stored = cell.stored;
      if (!stored) {
        await this.context.readPositions([cell.position], (_position, bytes, start, length) => {
          stored = decodeStateEntry(bytes, start, length).value;
        });
      }
      prints.push({ runId: cell.runId, name: cell.name, version: cell.position, value: stored?.bytes ? { bytes: [...stored.bytes] } : stored?.text });
    }
    return prints;
  }

  /** @internal */
  stats(): Record<string, number> {
    let cells = 0;
    let runCells = 0;
    for (const [runId, scope] of this.scopes) {
      cells += scope.size;
      if (runId !== '') runCells += scope.size;
    }
    return { cells, runCells, cachedValues: this.cache.size, cachedBytes: this.cachedBytes };
  }

  /** @internal a run was deleted: its cells and machines are forgotten (a prune erases their bytes). */
  dropRun(runId: string): void {
    const scope = this.scopes.get(runId);
    if (scope) for (const cell of scope.values()) this.uncache(cell);
    this.scopes.delete(runId);
    this.machines.delete(runId);
  }

  /** @internal a follower found segments the writer's prune rewrote. */
  forgetRemoved(removed: (position: number) => boolean): void {
    for (const cell of this.cells()) if (removed(cell.position)) this.remove(cell.runId, cell.name);
  }

  /** @internal */
  close(): void {
    this.closed = true;
    this.rejectWaiters(new StoreClosedError());
  }
}

function where(name: string, runId: string | undefined): string {
  return runId === undefined ? `state cell '${name}'` : `state cell '${name}' of run '${runId}'`;
}

/**
 * The cells of one scope: the store's own (`db.state`) or one run's (`db.state.forRun(id)`,
 * which a run handle's `run.state` is). Names are 1 to 1,024 UTF-8 bytes (NFC); values are JSON
 * or a Uint8Array. Every write is one entry; bad input rejects with a typed error and writes nothing.
 */
export class StateCells {
  /** @internal */
  constructor(protected readonly index: StateIndex, private readonly scope: string) {}

  /** The run these cells belong to, or undefined for the store's own cells. */
  get runId(): string | undefined {
    return this.scope === '' ? undefined : this.scope;
  }

  private checkWrite(where: string, name: unknown): { text: string; bytes: Uint8Array } {
    this.index.context.checkWritable();
    return checkName(this.index.context.core, `${where}: cell name`, name, MAX_CELL_NAME_BYTES, (text) => this.index.knownName(this.scope, text));
  }

  private lookup(where: string, name: unknown): string {
    this.index.context.checkOpen();
    if (typeof name === 'string' && this.index.cell(this.scope, name)) return name;
    return normalizeName(this.index.context.core, `${where}: cell name`, name).text;
  }

  /**
   * Creates the cell with `value` (ConflictError when it exists, nothing written). A cell with a
   * machine starts in the machine's initial state when `value` is omitted, or in the state given.
   */
  async init<T = unknown>(name: string, value?: T): Promise<{ version: number }> {
    const cell = this.checkWrite('state.init', name);
    const machine = this.index.machineFor(this.scope, cell.text);
    if (value === undefined) {
      if (!machine) throw new InvalidArgumentError(`state.init: ${where(cell.text, this.runId)} needs a value (only a cell with a state machine starts in its initial state without one)`);
      value = machine.initial as T;
    }
    const encoded = this.index.encode('state.init', cell.bytes, this.scope, value);
    const result = await this.index.write(this.scope, cell.text, cell.bytes, 'init', encoded, { kind: 'absent' });
    return { version: (result as { version: number }).version };
  }

  /** The cell's value and version, or undefined when it does not exist. */
  async get<T = unknown>(name: string): Promise<StateCell<T> | undefined> {
    return (await this.index.read(this.scope, this.lookup('state.get', name))) as StateCell<T> | undefined;
  }

  /** Writes the cell whatever its version (creating it). A cell with a machine may only move along its transitions. */
  async set<T = unknown>(name: string, value: T): Promise<{ version: number }> {
    const cell = this.checkWrite('state.set', name);
    const encoded = this.index.encode('state.set', cell.bytes, this.scope, value);
    const result = await this.index.write(this.scope, cell.text, cell.bytes, 'set', encoded, { kind: 'any' });
    return { version: (result as { version: number }).version };
  }

  /**
   * Writes the cell only if it is at `expectedVersion` (null: only if it does not exist).
   * A mismatch is no error: it resolves `{ ok: false, current }` with the cell as it is, and
   * writes nothing.
   */
  async cas<T = unknown>(name: string, expectedVersion: number | null, value: T): Promise<CasResult<T>> {
    const cell = this.checkWrite('state.cas', name);
    const expected = checkVersion('state.cas', expectedVersion, true);
    const encoded = this.index.encode('state.cas', cell.bytes, this.scope, value);
    const result = await this.index.write(this.scope, cell.text, cell.bytes, 'cas', encoded, { kind: 'version', version: expected, soft: true });
    return (result.ok ? { ok: true, version: result.version } : result) as CasResult<T>;
  }

  /**
   * Reads the cell, computes its next value with `next(value)` (value undefined when the cell
   * does not exist), and writes it if the cell has not changed meanwhile; otherwise reads it
   * again and retries, up to `retries` times (default 5), then throws ConflictError (this call
   * wrote nothing). `next` must be synchronous (do async work before), may run more than once,
   * and should not have side effects. Resolves to the value written and its version.
   */
  async transition<T = unknown>(name: string, next: (value: T | undefined) => T, options?: TransitionOptions): Promise<StateCell<T>> {
    const cell = this.checkWrite('state.transition', name);
    const compute = checkFunction<(value: T | undefined) => T>('state.transition: next', next);
    if (!compute) throw new InvalidArgumentError('state.transition: next must be a function (value) => next value, got undefined');
    const { retries: given } = checkOptions('state.transition', options, TRANSITION_KEYS);
    const retries = given === undefined ? DEFAULT_RETRIES : checkRetries(given);
    let current = (await this.index.read(this.scope, cell.text)) as StateCell<T> | undefined;
    for (let attempt = 0; ; attempt++) {
      const value = compute(current?.value);
      if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function') {
        (value as unknown as Promise<unknown>).then(undefined, () => undefined);
        throw new InvalidArgumentError(`state.transition: next returned a promise; it must return the next value synchronously (await what you need first, then call transition); nothing was written`);
      }
      const encoded = this.index.encode('state.transition', cell.bytes, this.scope, value);
      const result = await this.index.write(this.scope, cell.text, cell.bytes, 'transition', encoded, { kind: 'version', version: current ? current.version : null, soft: true });
      if (result.ok) return { value: readValue(result.stored!) as T, version: result.version };
      if (attempt >= retries) {
        const now = result.current ? `version ${result.current.version}` : 'deleted';
        throw new ConflictError(`state.transition: ${where(cell.text, this.runId)} changed under each of ${attempt + 1} attempts (it is now ${now}); this call wrote nothing: try again, or allow more { retries }`);
      }
      current = result.current as StateCell<T> | undefined;
    }
  }

  /**
   * Deletes the cell; with `expectedVersion`, only if it is at that version (ConflictError
   * otherwise, nothing written). Resolves true when it deleted a cell, false when there was none.
   */
  async delete(name: string, options?: DeleteCellOptions): Promise<boolean> {
    const cell = this.checkWrite('state.delete', name);
    const { expectedVersion } = checkOptions('state.delete', options, DELETE_KEYS);
    const expect: Expect = expectedVersion === undefined ? { kind: 'any' } : { kind: 'version', version: checkVersion('state.delete', expectedVersion, false), soft: false };
    const result = await this.index.write(this.scope, cell.text, cell.bytes, 'delete', undefined, expect);
    return result.ok && result.version >= 0;
  }

  /** The scope's cells by name (code-unit order) with their versions; values are read with `get`. */
  async list(options?: ListCellsOptions): Promise<{ name: string; version: number }[]> {
    this.index.context.checkOpen();
    const { prefix, limit } = checkOptions('state.list', options, LIST_KEYS);
    if (prefix !== undefined && typeof prefix !== 'string') throw new InvalidArgumentError(`state.list: prefix must be a string, got ${describe(prefix)}`);
    if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0)) throw new InvalidArgumentError(`state.list: limit must be a non-negative integer, got ${describe(limit)}`);
    const normal = prefix ? normalizeName(this.index.context.core, 'state.list: prefix', prefix).text : '';
    return this.index.list(this.scope, normal, limit ?? Infinity);
  }

  /**
   * Gives cell `name` a state machine: from now on its value is one of the machine's states (a
   * string), `init` starts it in `initial` (or a state given), and `set`, `cas` and
   * `transition` may only move it along `transitions` (InvalidTransitionError otherwise, nothing
   * written). Definitions are code: give them at every open (they are not stored). On
   * `db.state` it holds for that name in every scope unless a run defines its own on
   * `forRun(id)`. Defining it again replaces it.
   */
  defineMachine(name: string, definition: MachineDefinition): void {
    this.index.context.checkOpen();
    const cell = checkName(this.index.context.core, 'state.defineMachine: cell name', name, MAX_CELL_NAME_BYTES);
    this.index.defineMachine(this.scope, cell.text, checkMachine(`state.defineMachine('${cell.text}')`, definition));
  }
}

/** `db.state`: the store's own cells, and `forRun(id)` for a run's. */
export class State extends StateCells {
  /** The cells of run `runId` (1 to 255 UTF-8 bytes): the same API; every entry names the run. */
  forRun(runId: string): StateCells {
    this.index.context.checkOpen();
    const id = checkName(this.index.context.core, 'state.forRun: runId', runId, MAX_RUN_ID_BYTES);
    return new StateCells(this.index, id.text);
  }
}

function checkVersion(where: string, value: unknown, allowNull: boolean): number | null {
  if (value === null && allowNull) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${where}: expectedVersion must be a non-negative integer (a version from get, set or init)${allowNull ? ', or null for a cell that must not exist' : ''}, got ${describe(value)}`);
  }
  return value;
}

function checkRetries(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`state.transition: retries must be a non-negative integer, got ${describe(value)}`);
  return value;
}

/** State cells (docs/FORMAT.md §8.5): kinds 0x40 cell written, 0x41 cell deleted; 0x42–0x4F reserved. */
export const statePrimitive: PrimitiveSpec<State> = {
  name: 'state',
  kinds: [0x40, 0x4f],
  namedKinds: [KIND_STATE_WRITTEN, KIND_STATE_DELETED],
  recordKinds: [KIND_STATE_DELETED],
  section: 5,
  create: (context) => new StateIndex(context),
};
