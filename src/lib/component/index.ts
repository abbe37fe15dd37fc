export { ComponentStartError, startInOrder, type Component, type StartedComponents } from './component.js';
