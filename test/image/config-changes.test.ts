// `docker commit --change` vectors. Expected configs and errors are what Docker 20.10 gave for
// `docker commit -c '<change>'` on a container run as `alpine sh -c 'echo x > /f'`
// (the config after dockerd's merge with the container's config).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfigChanges } from '../../src/image/config-changes.js';
import { expandWord, splitWords } from '../../src/image/config-changes-lex.js';
import { parseGoDuration } from '../../src/image/config-changes-health.js';
import { mergeConfig } from '../../src/container/commit-ops.js';
import type { ImageRunConfig } from '../../src/image/types.js';
import { InvalidParameter } from '../../src/errors.js';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const base = (): ImageRunConfig => ({
  Hostname: '92a6a20ea944',
  User: '',
  Env: [PATH],
  Cmd: ['sh', '-c', 'echo x > /f'],
  Image: 'alpine',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: { 'fixture.stand-in-for': 'alpine:latest' },
});

const commit = (...changes: string[]) => mergeConfig(applyConfigChanges(base(), changes), base());

function refused(changes: string[], message: string): void {
  assert.throws(
    () => applyConfigChanges(base(), changes),
    (e: unknown) => {
      assert.ok(e instanceof InvalidParameter);
      assert.equal((e as Error).message, message);
      return true;
    },
  );
}

test('the full set Docker accepted, as one commit', () => {
  const c = commit(
    'CMD ["cat","/f"]',
    'ENV A=1 B=2',
    'ENV C 3 4',
    'EXPOSE 80/tcp 443',
    'LABEL a=b "c d"=e',
    'WORKDIR rel',
    'USER nobody',
    'VOLUME /v1 /v2',
    'VOLUME ["/v3"]',
    'ENTRYPOINT /bin/echo hi',
    'ONBUILD RUN x',
  );
  assert.deepEqual(c.Env, [PATH, 'A=1', 'B=2', 'C=3 4']);
  assert.deepEqual(c.Cmd, ['cat', '/f']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/bin/echo hi']);
  assert.deepEqual(Object.keys(c.ExposedPorts!).sort(), ['443/tcp', '80/tcp']);
  assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e', 'fixture.stand-in-for': 'alpine:latest' });
  assert.equal(c.WorkingDir, '/rel');
  assert.equal(c.User, 'nobody');
  assert.deepEqual(Object.keys(c.Volumes!).sort(), ['/v1', '/v2', '/v3']);
  assert.deepEqual(c.OnBuild, ['RUN x']);
  assert.equal(c.Hostname, '92a6a20ea944');
});

test('CMD and ENTRYPOINT forms', () => {
  assert.deepEqual(commit('CMD').Cmd, ['/bin/sh', '-c']);
  assert.deepEqual(commit('CMD []').Cmd, ['sh', '-c', 'echo x > /f']);
  assert.deepEqual(commit('CMD ["a",').Cmd, ['/bin/sh', '-c', '["a",']);
  assert.deepEqual(commit('cmd echo lower').Cmd, ['/bin/sh', '-c', 'echo lower']);
  const e = commit('ENTRYPOINT []');
  assert.equal(e.Entrypoint, null);
  assert.deepEqual(e.Cmd, ['sh', '-c', 'echo x > /f']);
  // ENTRYPOINT alone drops the command; the merge then brings the container's back.
  assert.deepEqual(applyConfigChanges(base(), ['ENTRYPOINT ["/bin/echo"]']).Cmd, null);
  assert.deepEqual(commit('ENTRYPOINT ["/bin/echo"]').Cmd, null);
  const withShell = applyConfigChanges({ ...base(), Shell: ['/bin/bash', '-lc'] }, ['CMD ls']);
  assert.deepEqual(withShell.Cmd, ['/bin/bash', '-lc', 'ls']);
});

test('ENV, LABEL: quotes, escapes and expansion', () => {
  assert.deepEqual(commit('ENV A="x y" B=z\\ w').Env, [PATH, 'A=x y', 'B=z w']);
  assert.deepEqual(commit('ENV PATH=/x:$PATH').Env, [
    'PATH=/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ]);
  assert.deepEqual(commit('LABEL "a"="b c"').Labels!['a'], 'b c');
  // Pairs of one ENV see the Env from before it; the next ENV sees them.
  assert.deepEqual(commit('ENV X=1', 'ENV X=2 Y=$X', 'ENV Z=${Y:-none}$W').Env, [PATH, 'X=2', 'Y=1', 'Z=1']);
  assert.deepEqual(commit("ENV S='$PATH'").Env, [PATH, 'S=$PATH']);
  assert.deepEqual(commit('LABEL legacy form value').Labels!['legacy'], 'form value');
});

test('EXPOSE: ranges and protocols', () => {
  assert.deepEqual(Object.keys(commit('EXPOSE 80-82/udp').ExposedPorts!), ['80/udp', '81/udp', '82/udp']);
  assert.deepEqual(Object.keys(commit('EXPOSE 8080/TCP').ExposedPorts!), ['8080/tcp']);
});

test('WORKDIR, USER, VOLUME, STOPSIGNAL, HEALTHCHECK', () => {
  assert.equal(commit('WORKDIR a b').WorkingDir, '/a b');
  assert.equal(commit('WORKDIR /srv', 'WORKDIR app/').WorkingDir, '/srv/app');
  assert.equal(commit('USER a b').User, 'a b');
  assert.equal(commit('STOPSIGNAL SIGKILL').StopSignal, 'SIGKILL');
  assert.equal(commit('STOPSIGNAL 9').StopSignal, '9');
  assert.deepEqual(commit('HEALTHCHECK NONE').Healthcheck, { Test: ['NONE'] });
  assert.deepEqual(commit('HEALTHCHECK --interval=5s CMD true').Healthcheck, {
    Test: ['CMD-SHELL', 'true'],
    Interval: 5_000_000_000,
  });
  assert.deepEqual(commit('HEALTHCHECK --retries=3 --timeout=1m30s CMD ["curl","-f","x"]').Healthcheck, {
    Test: ['CMD', 'curl', '-f', 'x'],
    Timeout: 90_000_000_000,
    Retries: 3,
  });
});

test('comments, blank lines and continuations are Dockerfile syntax', () => {
  const c = commit('# a comment', '', 'ENV A=1 \\', '  B=2');
  assert.deepEqual(c.Env, [PATH, 'A=1', 'B=2']);
});

test("refused changes, in Docker's words", () => {
  const vectors: [string, string][] = [
    ['FROM x', 'from is not a valid change command'],
    ['RUN x', 'run is not a valid change command'],
    ['bogus', 'bogus is not a valid change command'],
    ['ENV', 'ENV requires at least one argument'],
    ['ENV A', 'ENV must have two arguments'],
    ['ENV =x', 'ENV names can not be blank'],
    ['ENV A=1 B', 'Syntax error - can\'t find = in "B". Must be of the form: name=value'],
    ['LABEL', 'LABEL requires at least one argument'],
    ['LABEL a', 'LABEL must have two arguments'],
    ['EXPOSE', 'EXPOSE requires at least one argument'],
    ['EXPOSE abc', 'Invalid containerPort: abc'],
    ['EXPOSE 70000', 'Invalid containerPort: 70000'],
    ['WORKDIR', 'WORKDIR requires exactly one argument'],
    ['USER', 'USER requires exactly one argument'],
    ['VOLUME', 'VOLUME requires at least one argument'],
    ['VOLUME []', 'VOLUME requires at least one argument'],
    ['VOLUME [""]', 'VOLUME specified can not be an empty string'],
    ['ONBUILD', 'ONBUILD requires at least one argument'],
    ['ONBUILD FROM x', "FROM isn't allowed as an ONBUILD trigger"],
    ['ONBUILD ONBUILD x', "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ['ONBUILD MAINTAINER x', "MAINTAINER isn't allowed as an ONBUILD trigger"],
    ['STOPSIGNAL NOPE', 'Invalid signal: NOPE'],
    ['HEALTHCHECK FOO x', 'Unknown type "FOO" in HEALTHCHECK (try CMD)'],
  ];
  for (const [change, message] of vectors) refused([change], message);
  // An invalid instruction anywhere refuses the whole set before anything applies.
  refused(['ENV A=1', 'RUN x'], 'run is not a valid change command');
});

test('no changes: the config itself', () => {
  const c = base();
  assert.equal(applyConfigChanges(c, []), c);
  const changed = applyConfigChanges(c, ['ENV A=1']);
  assert.notEqual(changed, c);
  assert.deepEqual(c.Env, [PATH], 'the input is not modified');
});

test('word helpers', () => {
  assert.deepEqual(splitWords('a "b c" d\\ e'), ['a', '"b c"', 'd\\ e']);
  assert.equal(expandWord('"${HOME}"/x', ['HOME=/root']), '/root/x');
  assert.equal(expandWord('${U:+set}${V:+set}', ['U=1']), 'set');
  assert.equal(expandWord('\\$HOME', ['HOME=/root']), '$HOME');
  assert.equal(parseGoDuration('1h2m3.5s'), 3_723_500_000_000);
  assert.equal(parseGoDuration('250ms'), 250_000_000);
});

test('mergeConfig fills from the container config as dockerd does', () => {
  const m = mergeConfig(
    { Cmd: ['x'], Env: ['A=2'], ExposedPorts: { '1/tcp': {} } },
    {
      User: 'u',
      Env: ['A=1', 'B=1'],
      ExposedPorts: { '2/tcp': {} },
      Labels: { l: 'v' },
      WorkingDir: '/w',
      Volumes: { '/v': {} },
      Entrypoint: ['e'],
    },
  );
  assert.equal(m.User, 'u');
  assert.deepEqual(m.Env, ['A=2', 'B=1']);
  assert.deepEqual(Object.keys(m.ExposedPorts!).sort(), ['1/tcp', '2/tcp']);
  assert.deepEqual(m.Labels, { l: 'v' });
  assert.deepEqual(m.Cmd, ['x']);
  assert.deepEqual(m.Entrypoint, ['e']);
  assert.equal(m.WorkingDir, '/w');
  assert.deepEqual(m.Volumes, { '/v': {} });
});
