# A user's docker-py script, step by step: volume, run, logs, exec with and without a terminal,
# archive in and out, commit, events with since/until, prune. Exits non-zero on the first
# answer that differs from what dockerd 20.10 gives for the same steps.
import io, sys, tarfile, time
import docker

client = docker.DockerClient(base_url='unix://' + sys.argv[1], version='1.41')
image = sys.argv[2]
t0 = time.time()

vol = client.volumes.create('pyvol', labels={'from': 'docker-py'})
assert vol.attrs['Labels'] == {'from': 'docker-py'}, vol.attrs
out = client.containers.run(image, ['sh', '-c', 'echo kept > /data/f; echo done'], volumes={'pyvol': {'bind': '/data', 'mode': 'rw'}}, remove=True)
assert out == b'done\n', out

c = client.containers.run(image, ['sh', '-c', 'echo hello; echo oops >&2; sleep 1000'], name='pywork', detach=True, volumes={'pyvol': {'bind': '/data'}})
for _ in range(100):
    if b'oops' in c.logs():
        break
    time.sleep(0.05)
assert c.logs(stdout=True, stderr=False) == b'hello\n', c.logs(stdout=True, stderr=False)
assert c.logs(stdout=False, stderr=True) == b'oops\n'

r = c.exec_run(['cat', '/data/f'])
assert (r.exit_code, r.output) == (0, b'kept\n'), r
r = c.exec_run(['sh', '-c', 'echo out; echo err >&2'], demux=True)
assert r.output == (b'out\n', b'err\n'), r
r = c.exec_run(['sh', '-c', 'echo hello out'], tty=True)
assert r.output == b'hello out\r\n', r
r = c.exec_run(['sh', '-c', 'echo hello out'], tty=True, demux=True)
assert r.output == (b'hello out\r\n', None), r
assert list(c.exec_run(['echo', 'streamed'], stream=True).output) == [b'streamed\n']

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as tar:
    data = b'put in\n'
    info = tarfile.TarInfo('in.txt'); info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
assert c.put_archive('/tmp', buf.getvalue()) is True
stream, stat = c.get_archive('/tmp/in.txt')
assert stat['name'] == 'in.txt' and stat['size'] == 7, stat
with tarfile.open(fileobj=io.BytesIO(b''.join(stream))) as tar:
    assert tar.extractfile('in.txt').read() == b'put in\n'

img = c.commit(repository='pycommit', tag='v1', changes=['ENV FROM_COMMIT=1'])
assert 'FROM_COMMIT=1' in img.attrs['Config']['Env'], img.attrs['Config']
assert client.containers.run('pycommit:v1', ['cat', '/tmp/in.txt'], remove=True) == b'put in\n'

c.pause(); c.unpause()
c.remove(force=True)
t1 = time.time()
actions = [e['Action'] for e in client.events(since=t0, until=t1 + 1, decode=True, filters={'container': c.id})]
for a in ('create', 'start', 'pause', 'unpause', 'destroy'):
    assert a in actions, (a, actions)
assert actions.index('pause') < actions.index('unpause') < actions.index('destroy'), actions

client.images.remove('pycommit:v1')
pruned = client.containers.prune()
assert pruned['ContainersDeleted'] is None or isinstance(pruned['ContainersDeleted'], list), pruned
pruned = client.volumes.prune(filters={'label': 'from=docker-py'})
assert pruned['VolumesDeleted'] == ['pyvol'], pruned
assert client.volumes.prune(filters={'label': 'from=docker-py'})['VolumesDeleted'] == [], 'nothing left to prune'
print('workflow ok')
