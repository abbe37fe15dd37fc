export { later, type Pending } from './later.js';
export { ConcurrencyLimiter } from './limiter.js';
export { SerialQueue, SerialQueues } from './serial-queue.js';
