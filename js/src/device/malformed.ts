/**
 * An entry whose bytes verified against their entry check but still do not decode (lengths
 * that do not add up, text that is not JSON): the payload decoders throw it, and the log's
 * read loop turns it into CorruptionError at the entry's file and offset (segments.ts).
 */
export class MalformedEntry extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEntry';
  }
}
