// Layer and image identities exactly as Docker computes them (image-spec identity package).
import { createHash } from 'node:crypto';

/** diffID of the empty layer: 1024 zero bytes, the tar end-of-archive marker alone. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
export function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? d : sha256(`${parent} ${d}`));
  }
  return out;
}

export function chainID(diffIDs: string[]): string | undefined {
  return chainIDs(diffIDs).pop();
}

export function isDigest(s: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(s);
}
