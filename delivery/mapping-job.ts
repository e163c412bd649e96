/**
 * A kind of work the mapping thread runs. Each entrance registers its own (the exporter its packed
 * span batches, the collector its OTLP request bodies) by naming the module that builds it; the
 * thread loads those modules, so delivery never imports an entrance.
 */
import type { MapperOptions, UsageMapper } from '../usage/mapper.js';

/** One kind of job, as it runs on the mapping thread. */
export interface MappingJob {
  run(payload: unknown): unknown;
  /** The result's buffers that move back to the other thread (transferred, not copied). */
  transfer(result: unknown): ArrayBuffer[];
}

/** The mapper settings every job shares (its price book is loaded on the thread). */
export type MappingSettings = Omit<MapperOptions, 'prices'>;

/** What a job module exports: its job, built on the mapping thread around the thread's mapper. */
export type CreateMappingJob = (mapper: UsageMapper, settings: MappingSettings) => MappingJob;

/** A job an entrance registers: its kind, and the URL of the module exporting `createMappingJob`. */
export interface JobRegistration {
  kind: string;
  module: string;
}

/** The URL of module `name` beside `base` (an `import.meta.url`), from source (.ts) or built (.js). */
export function moduleBeside(base: string, name: string): string {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base).href;
}
