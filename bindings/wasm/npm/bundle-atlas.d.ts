import type { Atlas } from './index.js';
/**
 * The atlas in `dir` (a directory holding `atlas.json`, or the atlas file) with every context
 * file inlined as `content`, checked like the engine's directory loader (Node only).
 */
export declare function bundleAtlas(dir: string): Atlas;
/**
 * The atlas directory `dir` (or the atlas file) as the files object that
 * `Resolver.loadAtlasFiles` takes: `atlas.json` and each context file a pack names, keyed by path,
 * read with bundleAtlas's checks (Node only).
 */
export declare function readAtlasDir(dir: string): Record<string, string>;
