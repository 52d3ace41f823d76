import type { Atlas } from './index.js';
/**
 * The atlas in `dir` (a directory holding `atlas.json`, or the atlas file) with every context
 * file inlined as `content`, checked like the engine's directory loader (Node only).
 */
export declare function bundleAtlas(dir: string): Atlas;
