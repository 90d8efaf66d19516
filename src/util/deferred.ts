// A service whose module is loaded at its first call. A daemon that never builds, pulls or
// backs up never pays for those rooms and their libraries (dockerfile-ast, the registry
// client, restic's plumbing) in memory or start-up time. Every method of the deferred
// service returns a promise, so callers cannot tell, except that a method that was
// synchronous must now be awaited: the type below makes the compiler say where.

/** `T`'s methods, each answering through a promise. */
export type Deferred<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/**
 * The service `load` makes, loaded and built once, at the first method call. A failed load
 * (a missing module, a constructor that throws) fails that call and is tried again by the next.
 */
export function deferred<T extends object>(load: () => Promise<T>): Deferred<T> {
  let loading: Promise<T> | undefined;
  const service = (): Promise<T> => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy({} as Deferred<T>, {
    get(_target, prop) {
      // Not a thenable (an `await` of the object must not call a method named then).
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      let m = methods.get(prop);
      if (!m) {
        m = async (...args: unknown[]) => {
          const s = (await service()) as Record<string, unknown>;
          const fn = s[prop];
          if (typeof fn !== 'function') throw new TypeError(`${prop} is not a method of the service`);
          return (fn as (...a: unknown[]) => unknown).apply(s, args);
        };
        methods.set(prop, m);
      }
      return m;
    },
  });
}
