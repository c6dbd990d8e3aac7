// Differential fuzzing under V8: calls each named export (no arguments) on a fresh instance of
// a module without imports and prints one JSON line per export: {"value": "<u64>"}, or
// {"trap": "<Error: message>"} for a trap, or {"error": "..."} when the module does not compile.
// Usage: node --no-warnings node_invoke.mjs module.wasm export...
//        node --no-warnings node_invoke.mjs --batch jobs.json
// --batch runs many modules in this one process: jobs.json is [{module, exports, on_trap}], and
// each job prints one line {"results": [...]}: its exports, then, if the last of them trapped,
// the on_trap exports in order up to the first that does not return (the trapping call's search).
import { readFileSync } from 'node:fs';

function call(module, name) {
  try {
    const value = new WebAssembly.Instance(module, {}).exports[name]();
    return { value: BigInt.asUintN(64, BigInt(value)).toString() };
  } catch (e) {
    // a trap, or the stack overflow V8 throws as a RangeError (its other RangeErrors are limits)
    const isTrap = e instanceof WebAssembly.RuntimeError || (e instanceof RangeError && /call stack/.test(e.message));
    return isTrap ? { trap: `${e.name}: ${e.message}` } : { error: `${e.name}: ${e.message}` };
  }
}

function compile(path) {
  try {
    return { module: new WebAssembly.Module(readFileSync(path)) };
  } catch (e) {
    return { error: `${e.name}: ${e.message}` };
  }
}

const args = process.argv.slice(2);
if (args[0] === '--batch') {
  for (const job of JSON.parse(readFileSync(args[1], 'utf8'))) {
    const { module, error } = compile(job.module);
    let results;
    if (error) {
      results = job.exports.map(() => ({ error }));
    } else {
      results = job.exports.map((name) => call(module, name));
      if (results.length && 'trap' in results[results.length - 1]) {
        for (const name of job.on_trap || []) {
          const got = call(module, name);
          results.push(got);
          if (!('value' in got)) break;
        }
      }
    }
    console.log(JSON.stringify({ results }));
  }
} else {
  const [path, ...exports] = args;
  const { module, error } = compile(path);
  for (const name of exports) console.log(JSON.stringify(module ? call(module, name) : { error }));
}
