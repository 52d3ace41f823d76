'use strict';
// @cra/client for Node, CommonJS (`require('@cra/client')`): the native addon when a prebuilt
// binary exists for this platform, else the WebAssembly build. CRA_BINDING=wasm forces WASM,
// CRA_BINDING=native fails instead of falling back. The shared API (wasm/api.js) and the WASM
// fallback are ES modules loaded with require(): Node ^20.19.0 || >=22.12.0 (package.json engines).
const { loadNative } = require('./native.cjs');

const choice = process.env.CRA_BINDING || 'auto';
if (!['auto', 'native', 'wasm'].includes(choice)) throw new Error(`@cra/client: CRA_BINDING must be auto, native or wasm, not ${choice}`);
module.exports = (choice !== 'wasm' && loadNative(choice === 'native')) || require('./wasm/node/index.js');
