// The machine life-cycle (ARCHITECTURE.md "Life-cycle", STYLE.md §14): one pure table. A machine's
// facts and an event in; the next state and the effects the service carries out (power, boot purpose,
// timer, token, script run, timeline note), or a refusal with a reason an operator can act on, out.
// No clock, no I/O, no store. docs/lifecycle.md shows the table as a diagram rendered from it.
//
//   lifecycle-types.ts    states, events, effects, facts
//   lifecycle-table.ts    the table: state -> event -> handler; transition(), allowedEvents(), factsAfter()
//   lifecycle-diagram.ts  renderDiagram(): the table as mermaid, by asking transition()
export * from './lifecycle-types.js';
export {
  allowedEvents, bootPurposeOf, factsAfter, isBusyState, rescueOrigins, sampleEvents, transition, type BusyState,
} from './lifecycle-table.js';
export { renderDiagram } from './lifecycle-diagram.js';
