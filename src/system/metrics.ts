// Prometheus metrics, opt-in with --metrics-addr like dockerd's: storage figures per
// container, per volume and for the layer store and the data-root's filesystem. Gauges are
// filled at scrape time from the same kept figures as `docker system df` (usage-cache.ts), so a
// scrape costs a walk only of what changed since the last one.
import http from 'node:http';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { StorageView } from './storage-view.js';
import { dataRootFilesystem } from './disk-usage.js';

export function createMetricsRegistry(engine: StorageView): { registry: Registry; refresh: () => Promise<void> } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'strata_process_' });
  const cache = engine.usageCache;

  const containerBytes = new Gauge({
    name: 'container_fs_usage_bytes',
    help: "Bytes in the container's writable layer",
    labelNames: ['id', 'name', 'image'],
    registers: [registry],
  });
  const containerInodes = new Gauge({
    name: 'container_fs_inodes_used',
    help: "Inodes in the container's writable layer",
    labelNames: ['id', 'name', 'image'],
    registers: [registry],
  });
  const volumeBytes = new Gauge({
    name: 'strata_volume_usage_bytes',
    help: 'Bytes in a local volume',
    labelNames: ['volume'],
    registers: [registry],
  });
  const volumeInodes = new Gauge({
    name: 'strata_volume_inodes_used',
    help: 'Inodes in a local volume',
    labelNames: ['volume'],
    registers: [registry],
  });
  const layers = new Gauge({
    name: 'strata_layers',
    help: 'Layers in the layer store (each stored once)',
    registers: [registry],
  });
  const layerBytes = new Gauge({
    name: 'strata_layers_bytes',
    help: 'Bytes of all stored layers, each counted once',
    registers: [registry],
  });
  const images = new Gauge({ name: 'strata_images', help: 'Images', registers: [registry] });
  const rootBytes = new Gauge({
    name: 'strata_data_root_bytes',
    help: "Size and free bytes of the data-root's filesystem",
    labelNames: ['kind'],
    registers: [registry],
  });
  const rootInodes = new Gauge({
    name: 'strata_data_root_inodes',
    help: "Total and free inodes of the data-root's filesystem",
    labelNames: ['kind'],
    registers: [registry],
  });

  const containerCount = new Gauge({ name: 'strata_containers', help: 'Containers', registers: [registry] });
  // prom-client renders all metrics concurrently, so async collect() hooks could be read
  // before another one filled them: every gauge is filled here, before rendering.
  const refresh = async (): Promise<void> => {
    for (const g of [containerBytes, containerInodes, volumeBytes, volumeInodes]) g.reset();
    const containers = await engine.containers.list();
    for (const c of containers) {
      try {
        const u = await engine.snapshotter.usage(c.snapshotKey);
        const labels = { id: c.id, name: c.name, image: c.imageRef };
        containerBytes.set(labels, u.size);
        containerInodes.set(labels, u.inodes);
      } catch {
        /* removed during the scrape */
      }
    }
    containerCount.set(containers.length);
    for (const v of await engine.volumes.list()) {
      if (v.driver !== 'local' || Object.keys(v.options).length) continue;
      try {
        const u = await cache.volume(v.name, v.mountpoint);
        volumeBytes.set({ volume: v.name }, u.size);
        volumeInodes.set({ volume: v.name }, u.inodes);
      } catch {
        /* removed during the scrape */
      }
    }
    const du = await engine.images.diskUsage();
    images.set(du?.images.length ?? (await engine.images.list()).length);
    if (du) {
      layerBytes.set(du.layersSize);
      layers.set(du.layerCount);
    }
    const fs = dataRootFilesystem(engine.config.dataRoot);
    rootBytes.set({ kind: 'total' }, fs.Size);
    rootBytes.set({ kind: 'free' }, fs.Free);
    rootInodes.set({ kind: 'total' }, fs.Inodes);
    rootInodes.set({ kind: 'free' }, fs.InodesFree);
  };
  return { registry, refresh };
}

/**
 * Like dockerd's --metrics-addr the endpoint has no authentication, so an address other hosts
 * can reach (":9323", "0.0.0.0:9323", a public name) is worth a warning at start.
 */
export function metricsAddrWarning(addr: string): string | undefined {
  const host = (/^(.*):(\d+)$/.exec(addr)?.[1] ?? addr).replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) return undefined;
  return `WARNING: metrics are served on ${addr} without authentication and are reachable from other hosts; use 127.0.0.1:PORT to keep them local`;
}

/** Serves /metrics on host:port (e.g. 127.0.0.1:9323). */
export async function serveMetrics(engine: StorageView, addr: string): Promise<http.Server> {
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid --metrics-addr ${addr}: expected host:port`);
  const { registry, refresh } = createMetricsRegistry(engine);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404);
      res.end('404 page not found\n');
      return;
    }
    refresh()
      .then(() => registry.metrics())
      .then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(`${err.message}\n`);
        },
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), m[1]!.replace(/^\[|\]$/g, ''), () => resolve());
  });
  return server;
}
