// Parses each Mermaid file named on the command line with Mermaid's own parser (the npm package, pinned in
// package.json), in a jsdom window because Mermaid expects a browser. Prints one line per file; exits 1 if any fails.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const result = await mermaid.parse(readFileSync(file, "utf8"));
    console.log(`${file}: ok ${result.diagramType}`);
  } catch (error) {
    failed += 1;
    console.log(`${file}: FAILED ${String(error.message || error).split("\n").join(" | ")}`);
  }
}
process.exit(failed ? 1 : 0);
