export {
  ComponentStartError,
  readinessChecks,
  startInOrder,
  statuses,
  type Component,
  type ComponentSet,
  type Readiness,
  type ReadinessCheck,
  type StartedComponents,
  type StatusOf,
  type Statuses,
} from './component.js';
