// Differential fuzzing under V8: calls each named export (no arguments) on a fresh instance of
// a module without imports and prints one JSON line per export: {"value": "<u64>"}, or
// {"trap": "<Error: message>"} for a trap, or {"error": "..."} when the module does not compile.
// Usage: node --no-warnings node_invoke.mjs module.wasm export...
import { readFileSync } from 'node:fs';

const [path, ...exports] = process.argv.slice(2);
let module;
try {
  module = new WebAssembly.Module(readFileSync(path));
} catch (e) {
  for (const _ of exports) console.log(JSON.stringify({ error: `${e.name}: ${e.message}` }));
  process.exit(0);
}
for (const name of exports) {
  try {
    const value = new WebAssembly.Instance(module, {}).exports[name]();
    console.log(JSON.stringify({ value: BigInt.asUintN(64, BigInt(value)).toString() }));
  } catch (e) {
    // a trap, or the stack overflow V8 throws as a RangeError (its other RangeErrors are limits)
    const isTrap = e instanceof WebAssembly.RuntimeError || (e instanceof RangeError && /call stack/.test(e.message));
    console.log(JSON.stringify(isTrap ? { trap: `${e.name}: ${e.message}` } : { error: `${e.name}: ${e.message}` }));
  }
}
