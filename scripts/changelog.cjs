// Changelog lines for `changeset version` (.changeset/config.json "changelog"): each changeset's summary as one
// list item (with its commit when there is one), and one line, not one per changeset, for the convkit packages a
// release picks up: "- Updated dependencies: @convkit/core@0.1.0, @convkit/io@0.1.0".
'use strict';

/** @type {import('@changesets/types').ChangelogFunctions['getReleaseLine']} */
async function getReleaseLine(changeset) {
  const [firstLine, ...rest] = changeset.summary.split('\n').map((line) => line.trimEnd());
  const commit = changeset.commit ? `${changeset.commit.slice(0, 7)}: ` : '';
  return [`- ${commit}${firstLine}`, ...rest.map((line) => (line === '' ? '' : `  ${line}`))].join('\n');
}

/** @type {import('@changesets/types').ChangelogFunctions['getDependencyReleaseLine']} */
async function getDependencyReleaseLine(_changesets, dependenciesUpdated) {
  if (dependenciesUpdated.length === 0) return '';
  const names = dependenciesUpdated.map((dependency) => `\`${dependency.name}@${dependency.newVersion}\``);
  return `- Updated dependencies: ${names.join(', ')}`;
}

module.exports = { default: { getReleaseLine, getDependencyReleaseLine } };
