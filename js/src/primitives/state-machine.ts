/**
 * State machines for state cells (`state.defineMachine`): a cell with a machine holds one of
 * the machine's states, a string, and a write may only move it along a transition the machine
 * lists. Definitions live in code and are given at every open (they are not written to the
 * log): the program that writes the cell is the one that knows what its states mean, and a
 * changed definition takes effect without migrating anything stored.
 */
import { InvalidArgumentError, InvalidTransitionError } from '../errors.js';
import { checkOptions, describe, type OptionKeys } from '../validate.js';

export interface MachineDefinition {
  /** The state `init(name)` gives the cell when no value is given, and the only state a `set`, `cas` or `transition` may create the cell in. */
  initial: string;
  /** For each state, the states a write may move the cell to from it (a state with no entry, or an empty list, is final). */
  transitions: Record<string, readonly string[]>;
}

const MACHINE_KEYS: OptionKeys<MachineDefinition> = { initial: true, transitions: true };

/** A checked definition. */
export class Machine {
  private readonly next = new Map<string, readonly string[]>();
  /** Every state: the initial one, every `from` and every `to`. */
  readonly states = new Set<string>();

  constructor(readonly initial: string, transitions: Record<string, readonly string[]>) {
    this.states.add(initial);
    for (const [from, targets] of Object.entries(transitions)) {
      this.states.add(from);
      this.next.set(from, targets);
      for (const to of targets) this.states.add(to);
    }
  }

  /** The states the machine allows a write to move to from `from` (undefined: the cell does not exist). */
  allowedFrom(from: string | undefined): readonly string[] {
    if (from === undefined) return [this.initial];
    return this.next.get(from) ?? [];
  }
}

/** Checks a definition given to `defineMachine` (InvalidArgumentError naming what is wrong). */
export function checkMachine(where: string, definition: unknown): Machine {
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) {
    throw new InvalidArgumentError(`${where}: the definition must be an object { initial, transitions }, got ${describe(definition)}`);
  }
  const { initial, transitions } = checkOptions(where, definition as MachineDefinition, MACHINE_KEYS);
  if (typeof initial !== 'string' || initial.length === 0) throw new InvalidArgumentError(`${where}: initial must be a non-empty string (a state), got ${describe(initial)}`);
  if (transitions === null || typeof transitions !== 'object' || Array.isArray(transitions)) {
    throw new InvalidArgumentError(`${where}: transitions must be an object { state: [next states…] }, got ${describe(transitions)}`);
  }
  const copy: Record<string, string[]> = {};
  for (const [from, targets] of Object.entries(transitions)) {
    if (from.length === 0) throw new InvalidArgumentError(`${where}: transitions has an empty state name`);
    if (!Array.isArray(targets)) throw new InvalidArgumentError(`${where}: transitions['${from}'] must be an array of states, got ${describe(targets)}`);
    for (const [index, to] of targets.entries()) {
      if (typeof to !== 'string' || to.length === 0) throw new InvalidArgumentError(`${where}: transitions['${from}'][${index}] must be a non-empty string (a state), got ${describe(to)}`);
    }
    copy[from] = [...new Set(targets as string[])];
  }
  return new Machine(initial, copy);
}

/** What a write to a machine cell asks: create it (init or a first write) or move it. */
export type MachineWrite = 'init' | 'write';

/**
 * Checks that `to` (the value about to be written) is allowed for a cell with `machine` whose
 * current value is `current` (`exists` false: no cell). Throws InvalidArgumentError when `to`
 * is not a state of the machine, InvalidTransitionError when the machine does not allow it from
 * the current state.
 */
export function checkMachineWrite(machine: Machine, cell: string, runId: string | undefined, operation: MachineWrite, exists: boolean, current: unknown, to: unknown): void {
  const where = runId === undefined ? `state cell '${cell}'` : `state cell '${cell}' of run '${runId}'`;
  const states = [...machine.states].map((state) => JSON.stringify(state)).join(', ');
  if (typeof to !== 'string' || !machine.states.has(to)) {
    throw new InvalidArgumentError(`${where} has a state machine: its value must be one of its states (${states}), got ${describe(to)}; nothing was written`);
  }
  // init names the state to start in: any state of the machine.
  if (operation === 'init') return;
  if (!exists) {
    if (to !== machine.initial) throw new InvalidTransitionError(cell, runId, undefined, to, [machine.initial], `it does not exist, and a write creates it only in the initial state (use init to start it elsewhere)`);
    return;
  }
  if (typeof current !== 'string' || !machine.states.has(current)) {
    throw new InvalidTransitionError(cell, runId, typeof current === 'string' ? current : JSON.stringify(current), to, [], `it holds ${describe(current)}, which is not a state of its machine (states: ${states}); delete it and init it again`);
  }
  const allowed = machine.allowedFrom(current);
  if (!allowed.includes(to)) throw new InvalidTransitionError(cell, runId, current, to, allowed);
}
