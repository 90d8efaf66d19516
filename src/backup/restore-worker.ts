// The threads of a direct restore (restore-local.ts drives them). A "plan" worker creates the
// directory tree and lists the files, writes its share of them when told, and finishes
// (hardlinks, directory metadata); "files" workers write another share each.
import { parentPort, workerData } from 'node:worker_threads';
import { RepositoryReader } from './repo-reader.js';
import { finishRestore, planRestore, RefusedNode, UnsupportedNode, writeFiles, type FileJob } from './restorer.js';

interface Data {
  mode: 'plan' | 'files';
  repo: string;
  password: string;
  snapshot?: string;
  target?: string;
  files?: FileJob[];
  stripSetid?: boolean;
}

const data = workerData as Data;
const port = parentPort!;
const fail = (err: unknown) =>
  port.postMessage({
    error: (err as Error).message,
    unsupported: err instanceof UnsupportedNode,
    refused: err instanceof RefusedNode,
  });
const strip = data.stripSetid === true;
const progress = (p: { bytes: number }) => port.postMessage({ progress: p });

try {
  const reader = new RepositoryReader(data.repo, data.password);
  if (data.mode === 'files') {
    port.postMessage({ written: writeFiles(reader, data.files ?? [], progress, strip) });
    reader.close();
  } else {
    const plan = planRestore(reader, data.snapshot!, data.target!, strip);
    port.postMessage({ files: plan.files });
    port.on('message', (m: { write?: FileJob[]; finish?: boolean }) => {
      try {
        if (m.write) port.postMessage({ written: writeFiles(reader, m.write, progress, strip) });
        if (m.finish) {
          reader.close();
          finishRestore(plan, strip);
          port.postMessage({ finished: true });
          port.close();
        }
      } catch (err) {
        fail(err);
      }
    });
  }
} catch (err) {
  fail(err);
}
