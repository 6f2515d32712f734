#!/usr/bin/env node
// The radiolens executable: runs the compiled CLI.
import { runCli } from "../dist/cli/main.js";

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
