#!/usr/bin/env node
// The `convkit` command. A committed shim (not a build output) so that npm links it at install time, before the
// workspace is built; the command itself lives in dist/cli.js.
import '../dist/cli.js';
