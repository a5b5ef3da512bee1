#!/usr/bin/env node
// The `convkit` command. `npx convkit doctor [--json]` reports which tfjs backends can run here;
// `npx convkit --version` prints @convkit/core's version.
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { doctor, formatDoctorReport } from './doctor.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command();
program.name('convkit').description('convkit command-line tools').version(version, '-V, --version', "print @convkit/core's version");
program
  .command('doctor')
  .description('show which tfjs backends are installed and load, which CUDA libraries are missing, and what will run')
  .option('--json', 'print the report as JSON')
  .action(async (options: { json?: boolean }) => {
    const report = await doctor();
    console.log(options.json === true ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  });

await program.parseAsync(process.argv);
