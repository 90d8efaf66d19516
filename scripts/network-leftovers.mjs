#!/usr/bin/env node
// Removes what the networks of a stopped daemon's data-root left on the host (bridges,
// netavark's chains and rules), before a scratch data-root is deleted, and prints each object
// removed, so a daemon that leaks shows in the run's output:
//   network-leftovers.mjs DATA-ROOT EXEC-ROOT
// Only the networks recorded in that data-root are looked at: another daemon's stay.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { removeNetworkLeftovers, stopStrayAardvark, tearDownKeptSetups } from '../dist/src/network/leftovers.js';
import { findHelper, Netavark } from '../dist/src/network/netavark.js';
import { networkNamespaceDir } from '../dist/src/network/netns.js';

const [dataRoot, execRoot] = process.argv.slice(2);
if (!dataRoot || !execRoot) {
  console.error('usage: network-leftovers.mjs DATA-ROOT EXEC-ROOT');
  process.exit(2);
}
// The containers' setups the daemon kept (it was killed) first: their veths hold the bridges.
const configDir = path.join(execRoot, 'netavark');
const bin = findHelper('netavark');
const netavark = bin && fs.existsSync(configDir) ? new Netavark(configDir, bin, findHelper('aardvark-dns')) : undefined;
const { removed: tornDown, failed: kept } = await tearDownKeptSetups(networkNamespaceDir(execRoot), netavark);
for (const t of tornDown) console.log(`network leftovers: tore down the ${t}`);
for (const f of kept) console.log(`network leftovers: could not tear down the setup of ${f}`);
const file = path.join(dataRoot, 'strata.db');
if (!fs.existsSync(file)) process.exit(kept.length ? 1 : 0);
const db = new Database(file, { readonly: true, fileMustExist: true });
const networks = db
  .prepare('SELECT record FROM networks')
  .all()
  .map((r) => JSON.parse(r.record));
db.close();
const { removed, failed } = await removeNetworkLeftovers(networks, configDir);
removed.push(...stopStrayAardvark(configDir));
for (const r of removed) console.log(`network leftovers: removed ${r}`);
for (const f of failed) console.log(`network leftovers: could not remove: ${f}`);
process.exit(failed.length || kept.length ? 1 : 0);
