import v8 from 'node:v8';

/**
 * V8 settings for the engine's process, set once on import, before any row is parsed (imported by
 * src/pipeline.ts).
 *
 * No allocation-site pretenuring: when rows of a batch outlive a couple of young-generation collections
 * (the reader waits while the database takes the previous batch), V8 starts allocating every later row
 * straight into the old generation, where they stay until a full collection: on a 1M-row file the heap
 * grew by ~100 MB (peak RSS 280 MB instead of 210) and ingest was no faster.
 *
 * A fixed heap growing factor (1.25) instead of V8's own (up to 4 when collections are cheap): reading a
 * big file promotes a steady trickle of short-lived objects and Buffers, and with the default the old
 * generation was collected three times in the first second and then never again while a 1M-row file was
 * read, so that garbage (and the freed Buffers' memory, which glibc then kept) accumulated: peak RSS
 * 193-197 MB against 164-173 MB, no slower (docs/bench.md).
 */
v8.setFlagsFromString('--no-allocation-site-pretenuring');
v8.setFlagsFromString('--heap-growing-percent=25');
