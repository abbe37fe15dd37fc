import { z } from 'zod';
import { hostPort } from '../config/common.js';

/** `metrics` block: the HTTP listener for /metrics, /healthz, /readyz. */
export const httpConfigSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:9335'),
  })
  .strict();

export type HttpConfig = z.infer<typeof httpConfigSchema>;
