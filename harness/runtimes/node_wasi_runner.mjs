// Runs one WASI preview1 command module under node:wasi with stdio passed through.
// Usage: node --no-warnings node_wasi_runner.mjs module.wasm ['{"args":[],"env":{},"preopens":{"/guest":"/host"}}']
// The optional JSON grants argv, environment and preopened directories; without it, none.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const path = process.argv[2];
const grant = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const wasi = new WASI({ version: 'preview1', args: [path, ...(grant.args || [])], env: grant.env || {},
                        preopens: grant.preopens || {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(path));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
