// docker rename: the new name checked as Docker checks it (valid, not the current one, not
// taken), stored, and carried into the legacy links that name the container.
import { InvalidParameter } from '../errors.js';
import { emit, type Ctx } from './context.js';
import { validateName } from './names.js';
import { nameConflict } from './store.js';
import { renameInLinks } from './links.js';

export async function renameContainer(ctx: Ctx, ref: string, newName: string): Promise<void> {
  const rec = ctx.store.get(ref);
  if (!newName) throw new InvalidParameter('Neither old nor new names may be empty');
  const name = validateName(newName);
  if (name === rec.name) throw new InvalidParameter('Renaming a container with the same name as its current name');
  const other = ctx.store.byName(name);
  if (other) throw nameConflict(name, other.id);
  const oldName = rec.name;
  rec.name = name;
  ctx.store.save(rec);
  renameInLinks(ctx, rec, oldName);
  emit(ctx, 'rename', rec, { oldName: `/${oldName}` });
}
