/**
 * The run index: every run in memory, ordered newest first by (startedAt, id), with one such
 * list per status, name, tag and parent, so that `runs.query` walks only the smallest list its
 * filters name and costs O(limit) (plus the runs it skips for the other filters), never a log
 * scan. It also holds the positions of each run's own records and of the entries other
 * primitives attributed to a run (context.attribute). It is the snapshot section (section 7).
 */
import { Invalid, Reader, Writer } from '../engine/section-codec.js';
import { utf8Decode } from '../host/text.js';
import { isEnded, RUN_STATUSES, type RunHeader, type RunStatus } from './run-codec.js';

export interface RunState {
  id: string;
  name: string;
  status: RunStatus;
  parentRunId: string | null;
  tags: string[];
  startedAt: number;
  /** When it ended (succeeded, failed, cancelled), else null. */
  endedAt: number | null;
  /** Positions of the run's own records (begin first), in order. */
  records: number[];
  /** Position of the record that ended it (its output and error), or -1. */
  endPosition: number;
}

/** Orders runs by (startedAt, id). */
export function compareRuns(a: { startedAt: number; id: string }, b: { startedAt: number; id: string }): number {
  if (a.startedAt !== b.startedAt) return a.startedAt - b.startedAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Runs sorted by (startedAt, id), oldest first (runs mostly begin in order: an insert is usually a push). */
export class SortedRuns {
  readonly items: RunState[] = [];

  /** Index of the first run not before `key`. */
  lowerBound(key: { startedAt: number; id: string }): number {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareRuns(this.items[middle]!, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  insert(run: RunState): void {
    const last = this.items[this.items.length - 1];
    if (!last || compareRuns(last, run) < 0) this.items.push(run);
    else this.items.splice(this.lowerBound(run), 0, run);
  }

  remove(run: RunState): void {
    const at = this.lowerBound(run);
    if (this.items[at] === run) this.items.splice(at, 1);
  }

  get size(): number {
    return this.items.length;
  }
}

/** A keyed family of sorted lists (by status, name, tag, parent). */
class ListsBy {
  readonly lists = new Map<string, SortedRuns>();
  add(key: string, run: RunState): void {
    let list = this.lists.get(key);
    if (!list) this.lists.set(key, (list = new SortedRuns()));
    list.insert(run);
  }
  remove(key: string, run: RunState): void {
    const list = this.lists.get(key);
    if (!list) return;
    list.remove(run);
    if (list.size === 0) this.lists.delete(key);
  }
  get(key: string): SortedRuns | undefined {
    return this.lists.get(key);
  }
}

/** A query's filters, checked. */
export interface RunFilter {
  statuses?: readonly RunStatus[];
  name?: string;
  tag?: string;
  parentRunId?: string;
  /** Exclusive bounds on startedAt. */
  startedAfter?: number;
  startedBefore?: number;
  /** Only runs before this (the last run of the previous page). */
  after?: { startedAt: number; id: string };
  /** Only runs whose begin record is below this position (written). */
  writtenBefore?: number;
}

export class RunIndex {
  readonly runs = new Map<string, RunState>();
  readonly all = new SortedRuns();
  private readonly byStatus = new ListsBy();
  private readonly byName = new ListsBy();
  private readonly byTag = new ListsBy();
  private readonly byParent = new ListsBy();
  /** Entries other primitives attributed to a run id (whether or not the run exists), in position order. */
  readonly attributed = new Map<string, number[]>();

  get(id: string): RunState | undefined {
    return this.runs.get(id);
  }

  begin(id: string, header: RunHeader, startedAt: number, position: number): RunState {
    const run: RunState = { id, name: header.name, status: 'running', parentRunId: header.parentRunId, tags: header.tags, startedAt, endedAt: null, records: [position], endPosition: -1 };
    this.add(run);
    return run;
  }

  private add(run: RunState): void {
    this.runs.set(run.id, run);
    this.all.insert(run);
    this.byStatus.add(run.status, run);
    this.byName.add(run.name, run);
    for (const tag of run.tags) this.byTag.add(tag, run);
    if (run.parentRunId !== null) this.byParent.add(run.parentRunId, run);
  }

  setStatus(run: RunState, status: RunStatus, at: number, position: number): void {
    this.byStatus.remove(run.status, run);
    run.status = status;
    this.byStatus.add(status, run);
    run.records.push(position);
    if (isEnded(status)) {
      run.endedAt = at;
      run.endPosition = position;
    }
  }

  /** Forgets a run and the entries attributed to it. */
  drop(id: string): void {
    this.attributed.delete(id);
    const run = this.runs.get(id);
    if (!run) return;
    this.runs.delete(id);
    this.all.remove(run);
    this.byStatus.remove(run.status, run);
    this.byName.remove(run.name, run);
    for (const tag of run.tags) this.byTag.remove(tag, run);
    if (run.parentRunId !== null) this.byParent.remove(run.parentRunId, run);
  }

  attribute(runId: string, position: number): void {
    let positions = this.attributed.get(runId);
    if (!positions) this.attributed.set(runId, (positions = []));
    const last = positions[positions.length - 1];
    if (last === undefined || last < position) positions.push(position);
    else if (last !== position) {
      let at = positions.length - 1;
      while (at > 0 && positions[at - 1]! > position) at--;
      if (positions[at - 1] !== position) positions.splice(at, 0, position);
    }
  }

  /** The run's children, newest first. */
  children(id: string): RunState[] {
    return (this.byParent.get(id)?.items ?? []).slice().reverse();
  }

  countStatus(status: RunStatus): number {
    return this.byStatus.get(status)?.size ?? 0;
  }

  hasChildren(id: string): boolean {
    return (this.byParent.get(id)?.size ?? 0) > 0;
  }

  /** Runs matching `filter`, newest first, at most `limit`. */
  query(filter: RunFilter, limit: number): RunState[] {
    // Walk the smallest list a filter names (a status list, or a merge of several).
    const sources: SortedRuns[][] = [];
    if (filter.statuses) sources.push(filter.statuses.map((status) => this.byStatus.get(status)).filter((list): list is SortedRuns => list !== undefined));
    if (filter.name !== undefined) sources.push([this.byName.get(filter.name)].filter((list): list is SortedRuns => list !== undefined));
    if (filter.tag !== undefined) sources.push([this.byTag.get(filter.tag)].filter((list): list is SortedRuns => list !== undefined));
    if (filter.parentRunId !== undefined) sources.push([this.byParent.get(filter.parentRunId)].filter((list): list is SortedRuns => list !== undefined));
    let lists = [this.all];
    let smallest = Infinity;
    for (const candidate of sources) {
      const size = candidate.reduce((sum, list) => sum + list.size, 0);
      if (size < smallest) {
        smallest = size;
        lists = candidate;
      }
    }
    const found: RunState[] = [];
    if (limit === 0 || smallest === 0) return found;
    // Start below the cursor and below startedBefore.
    let bound: { startedAt: number; id: string } | undefined = filter.after;
    if (filter.startedBefore !== undefined) {
      const before = { startedAt: filter.startedBefore, id: '' };
      if (!bound || compareRuns(before, bound) < 0) bound = before;
    }
    const at = lists.map((list) => (bound ? list.lowerBound(bound) : list.size) - 1);
    for (;;) {
      // The newest of the lists' next runs.
      let pick = -1;
      for (let index = 0; index < lists.length; index++) {
        if (at[index]! < 0) continue;
        if (pick < 0 || compareRuns(lists[index]!.items[at[index]!]!, lists[pick]!.items[at[pick]!]!) > 0) pick = index;
      }
      if (pick < 0) break;
      const run = lists[pick]!.items[at[pick]!--]!;
      if (filter.startedAfter !== undefined && run.startedAt <= filter.startedAfter) break;
      if (matches(run, filter)) {
        found.push(run);
        if (found.length >= limit) break;
      }
    }
    return found;
  }

  clear(): void {
    for (const id of [...this.runs.keys()]) this.drop(id);
    this.attributed.clear();
  }

  /** The section: runs oldest first, then the attributed entries (`keep` filters positions: entries still on disk). */
  encode(keep: (position: number) => boolean): Uint8Array {
    const writer = new Writer();
    writer.u32(SECTION_VERSION);
    writer.u32(this.all.size);
    for (const run of this.all.items) {
      text(writer, run.id);
      text(writer, run.name);
      writer.u32(RUN_STATUSES.indexOf(run.status));
      text(writer, run.parentRunId ?? '');
      writer.u32(run.tags.length);
      for (const tag of run.tags) text(writer, tag);
      writer.f64(run.startedAt);
      writer.f64(run.endedAt ?? 0);
      writer.f64(run.endPosition + 1);
      positions(writer, run.records.filter(keep));
    }
    const attributed = [...this.attributed].map(([id, list]) => [id, list.filter(keep)] as const).filter(([, list]) => list.length > 0);
    writer.u32(attributed.length);
    for (const [id, list] of attributed) {
      text(writer, id);
      positions(writer, list);
    }
    return writer.done();
  }

  decode(bytes: Uint8Array): void {
    this.clear();
    if (bytes.length === 0) return;
    const reader = new Reader(bytes);
    const version = reader.u32();
    if (version !== SECTION_VERSION) throw new Invalid(`runs section version ${version} is not ${SECTION_VERSION}`);
    const count = reader.u32();
    const cache = new TextCache();
    for (let index = 0; index < count; index++) {
      const id = readText(reader);
      const name = readText(reader, cache);
      const status = RUN_STATUSES[reader.u32()];
      if (!status) throw new Invalid('a run has an unknown status');
      const parent = readText(reader);
      const tags = new Array<string>(reader.u32());
      for (let tag = 0; tag < tags.length; tag++) tags[tag] = readText(reader, cache);
      const startedAt = reader.f64();
      const endedAt = reader.f64();
      const endPosition = reader.f64() - 1;
      const records = readPositions(reader);
      if (records.length === 0 || this.runs.has(id)) throw new Invalid(`run '${id}' has no records or appears twice`);
      this.add({ id, name, status, parentRunId: parent === '' ? null : parent, tags, startedAt, endedAt: isEnded(status) ? endedAt : null, records, endPosition });
    }
    const attributed = reader.u32();
    for (let index = 0; index < attributed; index++) this.attributed.set(readText(reader), readPositions(reader));
    reader.end();
  }
}

const SECTION_VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function text(writer: Writer, value: string): void {
  const bytes = encoder.encode(value);
  writer.u32(bytes.length);
  writer.raw(bytes);
}

/** Names and tags repeat across runs: decoded once each (by their bytes' text). */
class TextCache {
  private readonly cache = new Map<string, string>();
  get(text: string): string {
    const cached = this.cache.get(text);
    if (cached !== undefined) return cached;
    if (this.cache.size < 4096) this.cache.set(text, text);
    return text;
  }
}

function readText(reader: Reader, cache?: TextCache): string {
  const length = reader.u32();
  const start = reader.at;
  const bytes = reader.raw(length);
  const text = utf8Decode(bytes, 0, length);
  // A replacement character: the bytes may not be UTF-8 (the strict decoder tells).
  if (text.includes('\uFFFD')) {
    try {
      decoder.decode(bytes);
    } catch {
      throw new Invalid(`a run text field at byte ${start} is not UTF-8`);
    }
  }
  return cache ? cache.get(text) : text;
}

function positions(writer: Writer, list: readonly number[]): void {
  writer.u32(list.length);
  for (const position of list) writer.f64(position);
}

function readPositions(reader: Reader): number[] {
  const list = new Array<number>(reader.u32());
  for (let index = 0; index < list.length; index++) {
    list[index] = reader.f64();
    if (index > 0 && list[index]! <= list[index - 1]!) throw new Invalid('run positions are not in order');
  }
  return list;
}

function matches(run: RunState, filter: RunFilter): boolean {
  if (filter.statuses && !filter.statuses.includes(run.status)) return false;
  if (filter.name !== undefined && run.name !== filter.name) return false;
  if (filter.tag !== undefined && !run.tags.includes(filter.tag)) return false;
  if (filter.parentRunId !== undefined && run.parentRunId !== filter.parentRunId) return false;
  if (filter.startedBefore !== undefined && run.startedAt >= filter.startedBefore) return false;
  if (filter.after !== undefined && compareRuns(run, filter.after) >= 0) return false;
  if (filter.writtenBefore !== undefined && run.records[0]! >= filter.writtenBefore) return false;
  return true;
}
