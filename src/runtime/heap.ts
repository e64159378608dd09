import v8 from 'node:v8';

/**
 * No allocation-site pretenuring in the engine's process. When rows of a batch outlive a couple of young-
 * generation collections (the reader waits while the database takes the previous batch), V8 starts
 * allocating every later row straight into the old generation, where they stay until a full collection:
 * on a 1M-row file the heap grew by ~100 MB (peak RSS 280 MB instead of 210) and ingest was no faster.
 * Set once, on import, before any row is parsed (imported by src/pipeline.ts).
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');
