/**
 * Cut records: the durable decisions that make entries of a stream or thread dead before their
 * bytes leave the disk (docs/FORMAT.md §8.3). They share the named-entry layout of events, so
 * the core's scan gives recovery their name and version without the host reading them:
 * - 0x31 event stream deleted: every event of the stream before it is gone; version = the
 *   stream's next version at the delete (a later append starts the name again at version 0);
 * - 0x32 event stream pruned: the stream's events below `version` are gone;
 * - 0x82 checkpoint thread pruned: the thread's checkpoints below seq `version` are gone.
 * Type is ASCII `deleted` or `pruned`, no id, no metadata, no data. A prune writes its cuts
 * (one commit) and waits until it is durable before rewriting any segment, so recovery
 * concludes the same thing whichever segments a crash left rewritten. Planning, writing and
 * applying cuts is the named index's (named-index.ts); this file is the records' bytes.
 */
import type { EntryWriter } from '../engine/commit.js';
import { EVENT_HEADER_BYTES, writeEvent } from './event-codec.js';

export const KIND_EVENT_STREAM_DELETED = 0x31;
export const KIND_EVENT_STREAM_PRUNED = 0x32;
export const KIND_CHECKPOINT_THREAD_PRUNED = 0x82;

const encoder = new TextEncoder();
const TYPE_DELETED = encoder.encode('deleted');
const TYPE_PRUNED = encoder.encode('pruned');

/** Payload bytes of a cut record for a name of `nameBytes` bytes. */
export function cutRecordBytes(kind: number, nameBytes: number): number {
  return EVENT_HEADER_BYTES + nameBytes + (kind === KIND_EVENT_STREAM_DELETED ? TYPE_DELETED.length : TYPE_PRUNED.length);
}

/** Writes one cut record as an entry of the frame being built. */
export function writeCutRecord(writer: EntryWriter, kind: number, nameBytes: Uint8Array, version: number, timestamp: number): void {
  const type = kind === KIND_EVENT_STREAM_DELETED ? TYPE_DELETED : TYPE_PRUNED;
  const size = cutRecordBytes(kind, nameBytes.length);
  const pointer = writer.reservePayload(size);
  writer.endPayload(kind, writeEvent(writer.u8, pointer, nameBytes, { type, id: '', data: new Uint8Array(0), binary: true, metadata: undefined }, version, timestamp));
}

/** Kinds that mark earlier entries dead (a prune removes them once the entries they cut are gone). */
export function isCutRecord(kind: number): boolean {
  return kind === KIND_EVENT_STREAM_DELETED || kind === KIND_EVENT_STREAM_PRUNED || kind === KIND_CHECKPOINT_THREAD_PRUNED || kind === 0x81;
}
