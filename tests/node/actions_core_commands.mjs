// Prints the workflow commands that @actions/core itself writes for annotations, so that the
// test suite can compare them with `lkpolicy check --format github`.
// Usage: node actions_core_commands.mjs NODE_MODULES < annotations.json
// Input: [{"command": "error" | "warning" | "notice", "message": "...",
//          "properties": {"title": "...", "file": "...", "startLine": 1, "startColumn": 2}}]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const core = await import(pathToFileURL(join(process.argv[2], "@actions", "core", "lib", "core.js")).href);
const annotations = JSON.parse(readFileSync(0, "utf8"));
for (const { command, message, properties } of annotations) {
  // Each function writes one `::command props::message` line to standard output.
  core[command](message, properties);
}
